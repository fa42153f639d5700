package server

import (
	"context"
	"slices"

	"github.com/spool-broker/spool/auth"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ApiVersions (key 18): versions 0-5.
//
// Behaviour:
//   - Lists every API key this broker serves with exactly the versions its
//     handler serves (register.go), and the feature flags it supports and
//     has finalized (KIP-584); FinalizedFeaturesEpoch is the metadata
//     image's offset.
//   - A request at a version this broker does not know is answered with
//     UNSUPPORTED_VERSION in v0 form with the key list (KIP-511), so the
//     client can retry at a version both serve; conn.go does this before
//     decoding.
//   - v3+: ClientSoftwareName and ClientSoftwareVersion must be non-empty,
//     of letters, digits, '.' and '-', starting and ending with a letter or
//     digit (INVALID_REQUEST); they are kept for the connection.
//   - v5 (KIP-1242, Kafka 4.4): ClusterId and NodeId are both set or both
//     unset (-1), else INVALID_REQUEST; when set and either is not this
//     broker's (the client reached another cluster or another node at a
//     known address), REBOOTSTRAP_REQUIRED with no key list, and the
//     client bootstraps again. Checked after the software fields, as
//     Kafka's KafkaApis.
//
// Version notes:
//   - v1: ThrottleTimeMs. v3: flexible, client software name and version,
//     features. v4: SupportedFeatures may start at 0 (KAFKA-17011).
//
// Where Spool differs from Kafka 4.3:
//   - Only metadata.version, group.version, transaction.version and
//     streams.version are advertised.

func (b *Broker) handleApiVersions(ctx context.Context, rc *reqCtx, req *protocol.ApiVersionsRequest) (*protocol.ApiVersionsResponse, error) {
	if rc.auth.Action == auth.RespondAndClose { // during a SASL exchange (conn_auth.go)
		return b.apiVersionsResponse(rc.auth.ErrorCode), nil
	}
	code := errcode.None
	if rc.v >= 3 {
		rc.c.softwareName = req.ClientSoftwareName
		rc.c.softwareVersion = req.ClientSoftwareVersion
		if !validSoftwareField(req.ClientSoftwareName) || !validSoftwareField(req.ClientSoftwareVersion) {
			code = errcode.InvalidRequest
		}
	}
	if rc.v >= 5 {
		switch {
		case (req.ClusterID == nil) != (req.NodeID == -1):
			code = errcode.InvalidRequest
		case code == errcode.None && req.ClusterID != nil &&
			(*req.ClusterID != b.image.Load().ClusterID() || req.NodeID != b.nodeID):
			if rc.c.sess != nil {
				rc.c.sess.ApiVersionsAnswered(false)
			}
			return &protocol.ApiVersionsResponse{ErrorCode: errcode.RebootstrapRequired}, nil
		}
	}
	if rc.c.sess != nil {
		// Before SASL authentication, a good answer moves the session on
		// to SaslHandshake; an error lets the client try again.
		rc.c.sess.ApiVersionsAnswered(code == errcode.None)
	}
	return b.apiVersionsResponse(code), nil
}

// validSoftwareField checks KIP-511's rule for client software name and
// version: non-empty, alphanumerics plus '.', '-', and must start and end
// with an alphanumeric.
func validSoftwareField(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return alnum(s[0]) && alnum(s[len(s)-1])
}

// apiVersionsResponse lists what this broker serves. The same body is valid
// at every version; for UNSUPPORTED_VERSION it is sent at v0, and v0 carries
// only the error and the key list.
func (b *Broker) apiVersionsResponse(code int16) *protocol.ApiVersionsResponse {
	resp := &protocol.ApiVersionsResponse{ErrorCode: code}
	keys := make([]int16, 0, len(b.handlers))
	for k := range b.handlers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h := b.handlers[k]
		resp.APIKeys = append(resp.APIKeys, protocol.ApiVersionsResponseAPIVersion{APIKey: k, MinVersion: h.min, MaxVersion: h.max})
	}
	if code != errcode.None {
		return resp
	}
	img := b.image.Load()
	resp.FinalizedFeaturesEpoch = int64(img.Offset())
	for _, f := range controller.SupportedFeatures {
		resp.SupportedFeatures = append(resp.SupportedFeatures, protocol.ApiVersionsResponseSupportedFeatureKey{
			Name: f.Name, MinVersion: f.MinSupportedVersion, MaxVersion: f.MaxSupportedVersion,
		})
		if lvl := img.Feature(f.Name); lvl > 0 {
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, protocol.ApiVersionsResponseFinalizedFeatureKey{
				Name: f.Name, MinVersionLevel: lvl, MaxVersionLevel: lvl,
			})
		}
	}
	return resp
}
