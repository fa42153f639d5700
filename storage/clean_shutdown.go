package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The clean shutdown file, as Kafka's CleanShutdownFileHandler writes it
// into every log dir on an orderly stop (KIP-966):
//
//	{"version":0,"brokerEpoch":<epoch>}
//
// Its presence tells recovery to trust the indexes (see doc.go); the epoch
// tells the controller, through BrokerRegistration's PreviousBrokerEpoch,
// that the broker it registered under that epoch stopped cleanly, so its
// replicas hold every record they acknowledged and may stay in the
// partitions' ELR. Older Spool wrote the file empty: it still means a
// clean stop for recovery, but proves no epoch.

// cleanShutdownVersion is the version this build writes.
const cleanShutdownVersion = 0

type cleanShutdownContent struct {
	Version     int    `json:"version"`
	BrokerEpoch *int64 `json:"brokerEpoch"`
}

// NoBrokerEpoch is the epoch of a broker that never registered, and the
// PreviousBrokerEpoch of one that cannot prove a clean shutdown.
const NoBrokerEpoch int64 = -1

// WriteCleanShutdownFile writes dir's clean shutdown file with the broker
// epoch, fsyncs it and then dir.
func WriteCleanShutdownFile(dir string, brokerEpoch int64) error {
	b, err := json.Marshal(cleanShutdownContent{Version: cleanShutdownVersion, BrokerEpoch: &brokerEpoch})
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, CleanShutdownFile))
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// errNoBrokerEpoch: the clean shutdown file holds no broker epoch.
var errNoBrokerEpoch = errors.New("storage: clean shutdown file holds no broker epoch")

// ReadCleanShutdownFile returns the broker epoch in dir's clean shutdown
// file. Any failure (no file, not Kafka's JSON, no brokerEpoch) is an
// error, as Kafka's read answers an empty OptionalLong; the version is not
// checked, as Kafka does not check it.
func ReadCleanShutdownFile(dir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, CleanShutdownFile))
	if err != nil {
		return NoBrokerEpoch, err
	}
	var c cleanShutdownContent
	if err := json.Unmarshal(b, &c); err != nil {
		return NoBrokerEpoch, fmt.Errorf("storage: clean shutdown file in %s: %w", dir, err)
	}
	if c.BrokerEpoch == nil {
		return NoBrokerEpoch, fmt.Errorf("%w: %s", errNoBrokerEpoch, dir)
	}
	return *c.BrokerEpoch, nil
}

// previousBrokerEpoch is Kafka's LogManager.readBrokerEpochFromCleanShutdownFiles:
// the epoch every dir's clean shutdown file names, or NoBrokerEpoch when a
// dir is offline, a file is missing or unreadable, or two dirs disagree.
// epochs holds what each loaded dir's file said before loading removed it.
func previousBrokerEpoch(dirs []string, offline map[string]struct{}, epochs map[string]int64) int64 {
	if len(offline) > 0 {
		return NoBrokerEpoch
	}
	epoch := NoBrokerEpoch
	for i, d := range dirs {
		e, ok := epochs[d]
		if !ok || (i > 0 && e != epoch) {
			return NoBrokerEpoch
		}
		epoch = e
	}
	return epoch
}
