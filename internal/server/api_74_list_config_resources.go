package server

import (
	"context"
	"maps"
	"slices"
	"strconv"

	"github.com/spool-broker/spool/auth/acl"
	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// ListConfigResources (key 74): versions 0-1.
//
// Behaviour:
//   - v0 was ListClientMetricsResources.
//   - Needs DESCRIBE_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED).
//   - v0: the client-metrics resources (subscriptions) in the metadata
//     image, the list kafka-client-metrics.sh --list prints.
//   - v1 (KIP-1142): the resources of the requested types, every supported
//     type when none is given: TOPIC every topic, BROKER every registered
//     broker, BROKER_LOGGER this broker, CLIENT_METRICS the subscriptions,
//     GROUP the groups this broker's coordinator knows and those with
//     dynamic configs. A type outside those is UNSUPPORTED_VERSION, as
//     Kafka.
//
// Version notes:
//   - v0 (ListClientMetricsResources, KIP-714): the client-metrics
//     resources only; the request has no ResourceTypes and the response no
//     ResourceType (it is filled with CLIENT_METRICS here and not encoded).
//   - v1 (KIP-1142): ResourceTypes in the request, ResourceType per
//     resource in the response.
//
// Where Spool differs from Kafka 4.3:
//   - GROUP lists the groups this broker's coordinator holds plus those
//     with dynamic configs: a group coordinated by another broker without
//     configs is left out. The types come in the order GROUP,
//     CLIENT_METRICS, BROKER_LOGGER, BROKER, TOPIC, and TOPIC includes the
//     internal topics. Kafka's lists and order were not compared.

func (b *Broker) handleListConfigResources(ctx context.Context, rc *reqCtx, req *protocol.ListConfigResourcesRequest) (*protocol.ListConfigResourcesResponse, error) {
	resp := &protocol.ListConfigResourcesResponse{ConfigResources: []protocol.ListConfigResourcesResponseConfigResource{}}
	if !b.authorizeCluster(rc, acl.OpDescribeConfigs) {
		resp.ErrorCode = errcode.ClusterAuthorizationFailed
		return resp, nil
	}
	types := req.ResourceTypes
	if rc.v == 0 {
		types = []int8{resourceClientMetrics}
	}
	supported := []int8{resourceTopic, resourceBroker, resourceBrokerLogger, resourceClientMetrics, resourceGroup}
	for _, t := range types {
		if !slices.Contains(supported, t) {
			resp.ErrorCode = errcode.UnsupportedVersion
			return resp, nil
		}
	}
	want := func(t int8) bool { return len(types) == 0 || slices.Contains(types, t) }
	add := func(t int8, names ...string) {
		for _, n := range names {
			resp.ConfigResources = append(resp.ConfigResources, protocol.ListConfigResourcesResponseConfigResource{ResourceName: n, ResourceType: t})
		}
	}
	img := b.image.Load()
	if want(resourceGroup) {
		groups := map[string]bool{}
		for name := range img.ConfigsOfType(resourceGroup) {
			groups[name] = true
		}
		if b.groupHandlers != nil {
			if _, listed := b.groupHandlers.coord.ListGroups(nil, nil); listed != nil {
				for _, g := range listed {
					groups[g.GroupID] = true
				}
			}
		}
		add(resourceGroup, slices.Sorted(maps.Keys(groups))...)
	}
	if want(resourceClientMetrics) {
		add(resourceClientMetrics, slices.Sorted(maps.Keys(img.ConfigsOfType(controller.ResourceClientMetrics)))...)
	}
	if want(resourceBrokerLogger) {
		add(resourceBrokerLogger, strconv.Itoa(int(b.nodeID)))
	}
	if want(resourceBroker) {
		for _, br := range img.Brokers() {
			add(resourceBroker, strconv.Itoa(int(br.ID)))
		}
	}
	if want(resourceTopic) {
		for _, t := range img.Topics() {
			add(resourceTopic, t.Name)
		}
	}
	return resp, nil
}
