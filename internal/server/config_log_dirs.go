package server

import (
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/controller"
	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/protocol/errcode"
)

// cordonedLogDirsKey is cordoned.log.dirs (KIP-1066), a per-broker config
// that Kafka 4.3 lets AlterConfigs change without a restart.
const cordonedLogDirsKey = "cordoned.log.dirs"

// checkCordonedLogDirs validates the cordoned.log.dirs a change to this
// broker's config resource would leave (next computes it from the current
// override; ok false when the change leaves none), as Kafka's
// DynamicLogConfig does on the broker the request names: its log dirs are
// known only here. INVALID_REQUEST with Kafka's message otherwise. Changes
// to other brokers are validated by those brokers' own requests (Kafka's
// admin client sends a broker's AlterConfigs to that broker).
func (b *Broker) checkCordonedLogDirs(typ int8, name string, next func(cur string, set bool) (string, bool)) *configError {
	if typ != resourceBroker || name != strconv.Itoa(int(b.nodeID)) {
		return nil
	}
	cur, set := b.ctrl.Image().Config(controller.ResourceBroker, name)[cordonedLogDirsKey]
	v, ok := next(cur, set)
	if !ok {
		return nil
	}
	if err := b.cfg.ValidateCordonedLogDirs(v); err != nil {
		return &configError{errcode.InvalidRequest, strings.TrimPrefix(err.Error(), config.ErrInvalidDynamicConfig.Error()+": ")}
	}
	return nil
}

// cordonedAfterOps applies the incremental operations on cordoned.log.dirs
// among ops to its current override (cur, set).
func cordonedAfterOps(ops []controller.ConfigOp) func(cur string, set bool) (string, bool) {
	return func(cur string, set bool) (string, bool) {
		touched := false
		for _, op := range ops {
			if op.Key != cordonedLogDirsKey {
				continue
			}
			touched = true
			var v string
			if op.Value != nil {
				v = *op.Value
			}
			switch op.Op {
			case controller.ConfigSet:
				cur, set = v, true
			case controller.ConfigDelete:
				cur, set = "", false
			case controller.ConfigAppend, controller.ConfigSubtract:
				items := splitDirs(cur)
				for _, d := range splitDirs(v) {
					i := slices.Index(items, d)
					if op.Op == controller.ConfigAppend && i < 0 {
						items = append(items, d)
					} else if op.Op == controller.ConfigSubtract && i >= 0 {
						items = slices.Delete(items, i, i+1)
					}
				}
				cur, set = strings.Join(items, ","), true
			}
		}
		return cur, touched && set
	}
}

// cordonedAfterReplace is cordonedAfterOps for AlterConfigs, which replaces
// the resource's whole config.
func cordonedAfterReplace(configs map[string]string) func(string, bool) (string, bool) {
	return func(string, bool) (string, bool) {
		v, ok := configs[cordonedLogDirsKey]
		return v, ok
	}
}

func splitDirs(v string) []string {
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// applyLogDirConfigs applies img's dynamic log dir configs to the log
// manager: the AlterReplicaLogDirs copy bound
// (replica.alter.log.dirs.io.max.bytes.per.second), and the cordoned dirs
// new logs avoid; the lifecycle's heartbeats report those to the
// controller, which then assigns no new replicas to a broker whose every
// online dir is cordoned.
func (b *Broker) applyLogDirConfigs(img *controller.MetadataImage) {
	if b.logManager == nil {
		return
	}
	dyn := b.dynamicBrokerConfig(img)
	b.logManager.SetMoveRate(b.cfg.AlterLogDirsMoveRate(dyn))
	dirs := b.cfg.CordonedLogDirsNow(dyn)
	if b.logManager.SetCordoned(dirs) {
		b.logger.Info("cordoned log dirs changed", zap.Strings("cordoned_log_dirs", dirs))
	}
}

// checkClusterDefault refuses per-broker configs (cordoned.log.dirs,
// listeners, TLS stores) on the cluster default entity, with Kafka's
// INVALID_REQUEST message.
func checkClusterDefault(typ int8, name string, keys []string) *configError {
	if typ != resourceBroker || name != "" {
		return nil
	}
	var per []string
	for _, k := range keys {
		if config.PerBrokerOnly(k) && !slices.Contains(per, k) {
			per = append(per, k)
		}
	}
	if len(per) == 0 {
		return nil
	}
	slices.Sort(per)
	return &configError{errcode.InvalidRequest, "Cannot update these configs at default cluster level, broker id must be specified: [" + strings.Join(per, ", ") + "]"}
}
