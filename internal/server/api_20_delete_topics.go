package server

import (
	"context"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// DeleteTopics (key 20): versions 0-6.
//
// Behaviour:
//   - With delete.topic.enable=false every topic gets TOPIC_DELETION_DISABLED
//     (INVALID_REQUEST before v3, which has no such code).
//   - v6 names topics by name or by ID, not both and not neither
//     (INVALID_REQUEST); duplicates and internal topics are INVALID_REQUEST
//     with Kafka's messages; unknown ones UNKNOWN_TOPIC_OR_PARTITION or
//     UNKNOWN_TOPIC_ID.
//   - The controller deletes them; the response waits until this broker's
//     image no longer has them and names each deleted topic by name and ID.
//   - Authorization (authz.go): DELETE on each topic, and DESCRIBE for a topic
//     named by ID (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v3: TOPIC_DELETION_DISABLED. v4: flexible. v5: ErrorMessage,
//     THROTTLING_QUOTA_EXCEEDED (KIP-599). v6: Topics by name or TopicID.
//
// Where Spool differs from Kafka 4.3:
//   - v0 is served (Kafka 4 dropped it).
//   - TimeoutMs is not used: the response waits for the controller.
//   - No controller mutation quota: never THROTTLING_QUOTA_EXCEEDED.

func (b *Broker) handleDeleteTopics(ctx context.Context, rc *reqCtx, req *protocol.DeleteTopicsRequest) (*protocol.DeleteTopicsResponse, error) {
	ctx = rc.mutationQuota(ctx, 5) // controller_mutation_rate, strict from v5 (quotas.go)
	resp := &protocol.DeleteTopicsResponse{}
	// v0-5 name topics in TopicNames; v6+ in Topics, by name or by ID.
	states := req.Topics
	if rc.v < 6 {
		states = make([]protocol.DeleteTopicsRequestDeleteTopicState, len(req.TopicNames))
		for i := range req.TopicNames {
			states[i].Name = &req.TopicNames[i]
		}
	}
	resp.Responses = make([]protocol.DeleteTopicsResponseDeletableTopicResult, len(states))
	for i, s := range states {
		resp.Responses[i] = protocol.DeleteTopicsResponseDeletableTopicResult{Name: s.Name, TopicID: s.TopicID}
	}
	fail := func(r *protocol.DeleteTopicsResponseDeletableTopicResult, code int16, msg string) {
		r.ErrorCode = code
		if msg != "" {
			r.ErrorMessage = &msg
		}
	}

	if !b.cfg.DeleteTopicEnable {
		// Kafka's ControllerApis: versions before 3 have no dedicated code.
		code, msg := errcode.TopicDeletionDisabled, ""
		if rc.v < 3 {
			code, msg = errcode.InvalidRequest, "Topic deletion is disabled."
		}
		for i := range resp.Responses {
			fail(&resp.Responses[i], code, msg)
		}
		return resp, nil
	}

	img := b.image.Load()
	names, ids := map[string]int{}, map[protocol.UUID]int{}
	for _, s := range states {
		if s.Name != nil {
			names[string(*s.Name)]++
		}
		if s.TopicID != (protocol.UUID{}) {
			ids[s.TopicID]++
		}
	}
	var refs []controller.TopicRef
	var slots []int
	for i, s := range states {
		r := &resp.Responses[i]
		hasName, hasID := s.Name != nil && *s.Name != "", s.TopicID != (protocol.UUID{})
		switch {
		case hasName && hasID:
			fail(r, errcode.InvalidRequest, "You may not specify both topic name and topic id.")
			continue
		case !hasName && !hasID:
			fail(r, errcode.InvalidRequest, "Neither topic name nor id were specified.")
			continue
		case hasName && names[string(*s.Name)] > 1, hasID && ids[s.TopicID] > 1:
			fail(r, errcode.InvalidRequest, "Duplicate topic name.")
			continue
		}
		name := ""
		if hasName {
			name = string(*s.Name)
		} else if t := img.TopicByID(controller.TopicID(s.TopicID)); t != nil {
			name = t.Name
			if !b.authorize(rc, acl.OpDescribe, acl.ResourceTopic, name) { // authz.go
				fail(r, errcode.TopicAuthorizationFailed, errcode.Message(errcode.TopicAuthorizationFailed))
				continue
			}
		}
		if name != "" && !b.authorize(rc, acl.OpDelete, acl.ResourceTopic, name) { // authz.go
			fail(r, errcode.TopicAuthorizationFailed, errcode.Message(errcode.TopicAuthorizationFailed))
			continue
		}
		if isInternalTopic(name) {
			fail(r, errcode.InvalidRequest, "Topic "+name+" is a kafka internal topic and is not allowed to be marked for deletion.")
			continue
		}
		refs = append(refs, controller.TopicRef{Name: name, ID: controller.TopicID(s.TopicID)})
		slots = append(slots, i)
	}
	if len(refs) == 0 {
		return resp, nil
	}
	results := b.ctrl.DeleteTopics(ctx, refs)
	b.syncImage()
	for i, res := range results {
		r := &resp.Responses[slots[i]]
		if res.Err != nil {
			code, msg := controllerErrorCode(res.Err)
			fail(r, code, msg)
			continue
		}
		// Kafka fills in both the name and the ID of every deleted topic.
		r.Name = ptrTopic(res.Name)
		r.TopicID = protocol.UUID(res.TopicID)
	}
	return resp, nil
}
