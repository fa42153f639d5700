package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// franzShareConsumer is the share-consumer scenario (KIP-932) with franz-go's share consumer
// (kgo.ShareGroup), as java/ShareCompat.java runs it with KafkaShareConsumer: two consumers
// of one share group split a two-partition topic (share.auto.offset.reset=earliest as a GROUP
// config); every record is accepted once but v-7, released at its first delivery (it comes
// back with delivery count 2), and v-13, rejected (never delivered again). Then the group is
// described (share, two members), its offsets show no lag and, once the consumers left, it is
// deleted.
func franzShareConsumer(ctx context.Context, topic string) error {
	const n = 100
	group := topic + "-share"
	admCl, adm, err := franzAdmin()
	if err != nil {
		return err
	}
	defer admCl.Close()
	if resp, err := adm.CreateTopic(ctx, 2, replicationFactor(), nil, topic); err != nil || resp.Err != nil {
		return fmt.Errorf("create topic: %v %v", err, resp.Err)
	}
	// kadm has no GROUP config helper: IncrementalAlterConfigs on the GROUP resource (32).
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Op, cfg.Value = "share.auto.offset.reset", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, cfg)
	req.Resources = append(req.Resources, res)
	if err := waitFor(ctx, func() error {
		resp, err := req.RequestWith(ctx, admCl)
		if err != nil {
			return err
		}
		for _, r := range resp.Resources {
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("share.auto.offset.reset=earliest on group %s: %w", group, err)
	}
	p, err := newKgo(kgo.SeedBrokers(brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k-%d", i)), Value: []byte(fmt.Sprintf("v-%d", i))}
	}
	err = p.ProduceSync(ctx, recs...).FirstErr()
	p.Close()
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}

	var (
		mu         sync.Mutex
		accepted   = map[string]int{}
		deliveries = map[string][]int32{}
	)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	consumers := make([]*kgo.Client, 2)
	for i := range consumers {
		if consumers[i], err = newKgo(kgo.SeedBrokers(brokers()...), kgo.ShareGroup(group), kgo.ConsumeTopics(topic)); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				fs := c.PollFetches(cctx)
				fs.EachRecord(func(r *kgo.Record) {
					v := string(r.Value)
					mu.Lock()
					deliveries[v] = append(deliveries[v], r.DeliveryCount())
					switch {
					case v == "v-7" && r.DeliveryCount() == 1:
						r.Ack(kgo.AckRelease)
					case v == "v-13":
						r.Ack(kgo.AckReject)
					default:
						r.Ack(kgo.AckAccept)
						accepted[v]++
					}
					mu.Unlock()
				})
				_ = c.FlushAcks(cctx)
			}
		}()
	}
	leave := func() {
		stop()
		wg.Wait()
		for _, c := range consumers {
			c.Close()
		}
	}
	defer func() {
		if cctx.Err() == nil {
			leave()
		}
	}()

	if err := waitFor(ctx, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(accepted) < n-1 {
			return fmt.Errorf("accepted %d of %d records", len(accepted), n-1)
		}
		return nil
	}); err != nil {
		return err
	}
	mu.Lock()
	for v, k := range accepted {
		if k != 1 {
			mu.Unlock()
			return fmt.Errorf("%s accepted %d times", v, k)
		}
	}
	v7, v13 := slices.Clone(deliveries["v-7"]), slices.Clone(deliveries["v-13"])
	_, rejectedAccepted := accepted["v-13"]
	mu.Unlock()
	if rejectedAccepted || !slices.Equal(v13, []int32{1}) {
		return fmt.Errorf("v-13 (rejected) delivered %v", v13)
	}
	if !slices.Equal(v7, []int32{1, 2}) {
		return fmt.Errorf("v-7 (released once) delivered %v, want [1 2]", v7)
	}

	var described kadm.DescribedShareGroup
	if err := waitFor(ctx, func() error {
		ds, err := adm.DescribeShareGroups(ctx, group)
		if err != nil {
			return err
		}
		described = ds[group]
		if described.Err != nil {
			return described.Err
		}
		if described.GroupState != "Stable" || len(described.Members) != 2 {
			return fmt.Errorf("group %s is %s with %d members", group, described.GroupState, len(described.Members))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if err := waitFor(ctx, func() error {
		offs, err := adm.DescribeShareGroupOffsets(ctx, group)
		if err != nil {
			return err
		}
		o := offs[group]
		if o.Err != nil {
			return o.Err
		}
		var parts []string
		for _, ps := range o.Offsets {
			for _, po := range ps {
				if po.Err != nil {
					return po.Err
				}
				if po.StartOffset < 0 || po.StartOffset > n/2 || po.Lag != 0 {
					return fmt.Errorf("partition %d: start offset %d lag %d", po.Partition, po.StartOffset, po.Lag)
				}
				parts = append(parts, fmt.Sprintf("%d:%d", po.Partition, po.StartOffset))
			}
		}
		if len(parts) != 2 {
			return fmt.Errorf("offsets for %d partitions, want 2", len(parts))
		}
		sort.Strings(parts)
		fmt.Printf("share group offsets (partition:start offset): %s, no lag\n", strings.Join(parts, " "))
		return nil
	}); err != nil {
		return fmt.Errorf("share group offsets: %w", err)
	}
	leave()
	if err := waitFor(ctx, func() error {
		rs, err := adm.DeleteGroups(ctx, group)
		if err != nil {
			return err
		}
		return rs[group].Err
	}); err != nil {
		return fmt.Errorf("delete share group: %w", err)
	}
	fmt.Printf("share-consumer: %d accepted, v-7 delivered %v, v-13 rejected; described %s with %d members\n",
		n-1, v7, described.GroupState, len(described.Members))
	return nil
}
