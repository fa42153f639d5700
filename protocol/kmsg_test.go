package protocol

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/protocol/wire"
)

// kmsgMessage is what kmsg's requests and responses have in common.
type kmsgMessage interface {
	SetVersion(int16)
	MaxVersion() int16
	AppendTo([]byte) []byte
	ReadFrom([]byte) error
}

func kmsgFor(key int16, request bool) kmsgMessage {
	if request {
		if r := kmsg.RequestForKey(key); r != nil {
			return r
		}
		return nil
	}
	if r := kmsg.ResponseForKey(key); r != nil {
		return r
	}
	return nil
}

// knownKmsgDifferences are key/versions where kmsg v1.15.0 disagrees with
// Kafka's own specs; Spool follows the specs.
var knownKmsgDifferences = map[string]string{
	// Spec: isKRaftController (v4+) sits between ControllerId and
	// ControllerEpoch; kmsg puts it elsewhere. ZooKeeper-only API.
	"StopReplicaRequest v4": "field order",
	// Spec: Records is nullable only in v0; kmsg writes a nil Records as
	// null in v1-2 too, which Kafka (and Spool) reject.
	"ShareFetchResponse v1": "null records",
	"ShareFetchResponse v2": "null records",
}

// TestCrossCheckKmsg checks Spool's encoding against franz-go's independent
// implementation in both directions, for every key and version both know.
func TestCrossCheckKmsg(t *testing.T) {
	checked := 0
	failed := map[string]string{}
	bad := func(name string, v int16, why string) {
		key := fmt.Sprintf("%s v%d", name, v)
		if _, ok := knownKmsgDifferences[key]; ok {
			return
		}
		if _, ok := failed[key]; !ok {
			failed[key] = why
		}
	}
	for _, api := range APIs {
		for _, request := range []bool{true, false} {
			k := kmsgFor(api.Key, request)
			if k == nil {
				continue
			}
			maxV := min(api.MaxVersion, k.MaxVersion())
			for v := api.MinVersion; v <= maxV; v++ {
				for i := range 4 {
					name := api.Name
					if request {
						name += "Request"
					} else {
						name += "Response"
					}
					// Spool → kmsg → identical bytes.
					var ours Message
					if request {
						ours = NewRequest(api.Key)
					} else {
						ours = NewResponse(api.Key)
					}
					newFiller(uint64(api.Key)<<20|uint64(v)<<8|uint64(i)).fill(reflect.ValueOf(ours).Elem(), 0)
					b := ours.AppendTo(nil, v)
					theirs := kmsgFor(api.Key, request)
					theirs.SetVersion(v)
					if err := theirs.ReadFrom(b); err != nil {
						bad(name, v, "kmsg cannot read Spool's bytes: "+err.Error())
						continue
					}
					if !bytes.Equal(b, theirs.AppendTo(nil)) {
						bad(name, v, "kmsg re-encodes Spool's bytes differently")
						continue
					}

					// kmsg → Spool → identical bytes.
					theirs = kmsgFor(api.Key, request)
					newFiller(uint64(api.Key)<<20|uint64(v)<<8|uint64(i)|1<<40).fill(reflect.ValueOf(theirs).Elem(), 0)
					theirs.SetVersion(v)
					kb := theirs.AppendTo(nil)
					if request {
						ours = NewRequest(api.Key)
					} else {
						ours = NewResponse(api.Key)
					}
					r := wire.NewReader(kb)
					if err := ours.Decode(r, v); err != nil {
						bad(name, v, "Spool cannot read kmsg's bytes: "+err.Error())
						continue
					}
					if err := r.Complete(); err != nil {
						bad(name, v, "Spool leaves bytes of kmsg's encoding: "+err.Error())
						continue
					}
					if !bytes.Equal(kb, ours.AppendTo(nil, v)) {
						bad(name, v, "Spool re-encodes kmsg's bytes differently")
						continue
					}
					checked++
				}
			}
		}
	}
	keys := make([]string, 0, len(failed))
	for k := range failed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%s: %s", k, failed[k])
	}
	t.Logf("checked %d key/version/direction combinations against kmsg", checked)
	require.Greater(t, checked, 1000)
}

// TestGoldenFramesKmsg checks that kmsg reads the bodies of the captured
// frames and re-encodes them identically, like Spool does.
func TestGoldenFramesKmsg(t *testing.T) {
	for _, g := range goldenFrames {
		frame, err := os.ReadFile(filepath.Join("testdata", g.file))
		require.NoError(t, err)
		hdr, _, err := ParseRequest(frame)
		require.NoError(t, err)
		body := frame[len(hdr.AppendTo(nil, RequestHeaderVersion(g.key, g.version))):]
		k := kmsg.RequestForKey(g.key)
		k.SetVersion(g.version)
		require.NoError(t, k.ReadFrom(body), g.file)
		require.Equal(t, body, k.AppendTo(nil), g.file)
	}
}
