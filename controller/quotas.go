package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see controllerErrorCode).

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spool-broker/spool/quota"
)

// Client quotas in the metadata log: Kafka's ClientQuotaRecord, its replay
// into the image, the AlterClientQuotas controller operation and the
// image's DescribeClientQuotas (Kafka's ClientQuotaControlManager and
// ClientQuotasImage).
//
//	ClientQuotaRecord body (version 0):
//	  count:uvarint(n+1)  (entityType:string entityName:nullable-string)*n
//	  key:string  value:float64 (8 bytes, IEEE 754 big-endian)  remove:bool

// ClientQuotaRecordType is Kafka's ClientQuotaRecord apiKey.
const ClientQuotaRecordType RecordType = 14

// Errors of the quota operations; the handler maps them to Kafka codes.
var (
	ErrThrottlingQuotaExceeded = errors.New("controller: throttling quota exceeded") // THROTTLING_QUOTA_EXCEEDED
	ErrUnsupportedVersion      = errors.New("controller: unsupported version")       // UNSUPPORTED_VERSION
)

// QuotaEntityData is one component of a quota entity: its type (user,
// client-id, ip) and name, nil for the default entity.
type QuotaEntityData struct {
	EntityType string
	EntityName *string
}

// ClientQuotaRecord sets (or, with Remove, deletes) one quota key of an
// entity.
type ClientQuotaRecord struct {
	Entity []QuotaEntityData
	Key    string
	Value  float64
	Remove bool
}

func (*ClientQuotaRecord) Type() RecordType { return ClientQuotaRecordType }

func (*ClientQuotaRecord) version() uint8 { return 0 }

func (r *ClientQuotaRecord) appendBody(dst []byte) []byte {
	dst = appendUvarint(dst, uint64(len(r.Entity))+1)
	for _, e := range r.Entity {
		dst = appendString(dst, e.EntityType)
		dst = appendNullableString(dst, e.EntityName)
	}
	dst = appendString(dst, r.Key)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(r.Value))
	return appendBool(dst, r.Remove)
}

func (r *ClientQuotaRecord) decodeBody(d *reader, _ uint8) {
	if n := d.count(); n > 0 {
		r.Entity = make([]QuotaEntityData, n)
		for i := range r.Entity {
			r.Entity[i].EntityType = d.string()
			r.Entity[i].EntityName = d.nullableString()
		}
	}
	r.Key = d.string()
	r.Value = d.float64()
	r.Remove = d.bool()
}

func (r *reader) float64() float64 {
	if len(r.b) < 8 {
		r.fail(errShort)
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// entityOf turns a record's components into an entity; unknown types and
// repeated or empty components are refused.
func entityOf(data []QuotaEntityData) (quota.Entity, error) {
	var e quota.Entity
	for _, d := range data {
		n := quota.DefaultName
		if d.EntityName != nil {
			n = quota.Name(*d.EntityName)
		}
		var part *quota.EntityName
		switch d.EntityType {
		case quota.EntityUser:
			part = &e.User
		case quota.EntityClientID:
			part = &e.ClientID
		case quota.EntityIP:
			part = &e.IP
		default:
			return quota.Entity{}, fmt.Errorf("quota entity type %q", d.EntityType)
		}
		if part.Kind != quota.Absent {
			return quota.Entity{}, fmt.Errorf("quota entity type %q twice", d.EntityType)
		}
		*part = n
	}
	if e == (quota.Entity{}) {
		return e, errors.New("empty quota entity")
	}
	return e, nil
}

func entityData(e quota.Entity) []QuotaEntityData {
	cs := e.Components()
	out := make([]QuotaEntityData, len(cs))
	for i, c := range cs {
		out[i] = QuotaEntityData{EntityType: c.Type, EntityName: c.Name}
	}
	return out
}

// clientQuotaSet is the image's client quotas. Entities carry the order
// they were created in, which decides Kafka's answer order within a hash
// bucket (see DescribeClientQuotas). Copy-on-write like the rest of the
// image: a set and its maps are never modified once published.
type clientQuotaSet struct {
	entities map[quota.Entity]*clientQuotaEntry
	next     uint64 // seq of the next new entity
}

type clientQuotaEntry struct {
	seq    uint64
	values map[string]float64
}

// applyClientQuota replays a ClientQuotaRecord (Kafka's
// ClientQuotaControlManager.replay): an entity whose last key is removed
// disappears.
func (b *builder) applyClientQuota(r *ClientQuotaRecord) error {
	e, err := entityOf(r.Entity)
	if err != nil {
		return err
	}
	set := &b.img.clientQuotas
	if !b.quotasCloned {
		set.entities = maps.Clone(set.entities)
		if set.entities == nil {
			set.entities = map[quota.Entity]*clientQuotaEntry{}
		}
		b.quotasCloned = true
	}
	entry := &clientQuotaEntry{seq: set.next}
	if old := set.entities[e]; old != nil {
		entry.seq, entry.values = old.seq, maps.Clone(old.values)
	} else {
		set.next++
	}
	if entry.values == nil {
		entry.values = map[string]float64{}
	}
	if r.Remove {
		delete(entry.values, r.Key)
	} else {
		entry.values[r.Key] = r.Value
	}
	if len(entry.values) == 0 {
		delete(set.entities, e)
	} else {
		set.entities[e] = entry
	}
	return nil
}

// orderedEntities lists the entities in creation order.
func (s clientQuotaSet) orderedEntities() []quota.Entity {
	return slices.SortedFunc(maps.Keys(s.entities), func(a, b quota.Entity) int {
		return cmp.Compare(s.entities[a].seq, s.entities[b].seq)
	})
}

// clientQuotaRecords rebuild the image's quotas (for snapshots), entities
// in creation order so a restored image keeps it.
func (m *MetadataImage) clientQuotaRecords() []Record {
	var out []Record
	for _, e := range m.clientQuotas.orderedEntities() {
		kv := m.clientQuotas.entities[e].values
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			out = append(out, &ClientQuotaRecord{Entity: entityData(e), Key: k, Value: kv[k]})
		}
	}
	return out
}

// ClientQuotas returns every entity's quotas (entity → key → value). The
// inner maps are shared with the image and must not be modified.
func (m *MetadataImage) ClientQuotas() map[quota.Entity]map[string]float64 {
	out := make(map[quota.Entity]map[string]float64, len(m.clientQuotas.entities))
	for e, entry := range m.clientQuotas.entities {
		out[e] = entry.values
	}
	return out
}

// clientQuota returns one entity's quotas, nil if none.
func (m *MetadataImage) clientQuota(e quota.Entity) map[string]float64 {
	if entry := m.clientQuotas.entities[e]; entry != nil {
		return entry.values
	}
	return nil
}

// QuotaAlteration is one entry of AlterClientQuotas, as the request carries
// it: the entity's components (a repeated type replaces the earlier one,
// as in Kafka's map) and the operations.
type QuotaAlteration struct {
	Entity []QuotaEntityData
	Ops    []QuotaOp
}

// QuotaOp sets Key to *Value, or removes Key when Value is nil.
type QuotaOp struct {
	Key   string
	Value *float64
}

// QuotaAlterationResult is the outcome for one distinct entity. Entity
// lists its components in the order Kafka's response does.
type QuotaAlterationResult struct {
	Entity []QuotaEntityData
	Err    error
}

// rawEntity is an entity as a request names it, possibly with types Kafka
// does not know: Kafka's ClientQuotaEntity over a HashMap. parts are in the
// HashMap's iteration order, which Kafka's messages and responses show.
type rawEntity struct {
	parts []QuotaEntityData
}

func newRawEntity(data []QuotaEntityData) rawEntity {
	var keys []string
	names := map[string]*string{}
	for _, d := range data {
		if _, ok := names[d.EntityType]; !ok {
			keys = append(keys, d.EntityType)
		}
		names[d.EntityType] = d.EntityName
	}
	keys = javaHashOrder(keys, len(data))
	r := rawEntity{parts: make([]QuotaEntityData, len(keys))}
	for i, k := range keys {
		r.parts[i] = QuotaEntityData{EntityType: k, EntityName: names[k]}
	}
	return r
}

// key identifies the entity whatever the order of its parts.
func (r rawEntity) key() string {
	parts := make([]string, len(r.parts))
	for i, p := range r.parts {
		name := "\x00" // null: the default
		if p.EntityName != nil {
			name = "=" + *p.EntityName
		}
		parts[i] = p.EntityType + name
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}

// String is Kafka's ClientQuotaEntity.toString.
func (r rawEntity) String() string {
	var sb strings.Builder
	sb.WriteString("ClientQuotaEntity(entries={")
	for i, p := range r.parts {
		if i > 0 {
			sb.WriteString(", ")
		}
		name := "null"
		if p.EntityName != nil {
			name = *p.EntityName
		}
		sb.WriteString(p.EntityType + "=" + name)
	}
	sb.WriteString("})")
	return sb.String()
}

// javaHashOrder orders distinct string keys as a java.util.HashMap created
// with the given initial capacity iterates them after they were put in
// this order: by bucket of String.hashCode in the final table, then by
// insertion. Kafka builds its quota entities and operations in such maps,
// and the first failing one decides the error reported.
func javaHashOrder(keys []string, initialCapacity int) []string {
	table := javaTableSize(initialCapacity, len(keys))
	out := slices.Clone(keys)
	slices.SortStableFunc(out, func(a, b string) int {
		return cmp.Compare(javaBucket(javaStringHash(a), table), javaBucket(javaStringHash(b), table))
	})
	return out
}

// javaTableSize is the table length of a java.util.HashMap created with
// initialCapacity once count keys are in it.
func javaTableSize(initialCapacity, count int) int {
	table := 1
	for table < initialCapacity {
		table <<= 1
	}
	threshold := int(float64(table) * 0.75)
	for size := 1; size <= count; size++ {
		if size > threshold {
			table <<= 1
			threshold = int(float64(table) * 0.75)
		}
	}
	return table
}

// javaBucket is the bucket of a key with hashCode h in a HashMap table.
func javaBucket(h int32, table int) int {
	u := uint32(h)
	return int((u ^ u>>16) & uint32(table-1))
}

// javaStringHash is Java's String.hashCode.
func javaStringHash(s string) int32 {
	var h int32
	for _, c := range utf16Units(s) {
		h = 31*h + int32(c)
	}
	return h
}

// javaEntityHash is ClientQuotaEntity.hashCode: Objects.hash of its
// HashMap, whose hash is the sum of key.hashCode ^ value.hashCode (0 for
// the null default name).
func javaEntityHash(parts []QuotaEntityData) int32 {
	var sum int32
	for _, p := range parts {
		var v int32
		if p.EntityName != nil {
			v = javaStringHash(*p.EntityName)
		}
		sum += javaStringHash(p.EntityType) ^ v
	}
	return 31 + sum
}

// utf16Units are the UTF-16 code units Java's String.hashCode runs over.
func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// quotaError is an INVALID_REQUEST (or, for an unexpected key type,
// UNKNOWN_SERVER_ERROR) with Kafka's message.
func quotaError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
}

// AlterClientQuotas applies quota alterations in one atomic metadata batch,
// with Kafka's validation and messages (ClientQuotaControlManager): each
// entity must have known, non-empty components in a valid combination, and
// each value must suit its key. An entity named twice is processed once
// and reported as ignored. With validateOnly nothing is written.
func (c *Controller) AlterClientQuotas(ctx context.Context, alterations []QuotaAlteration, validateOnly bool) []QuotaAlterationResult {
	var order []string
	results := map[string]*QuotaAlterationResult{}
	done, err := c.beginOp(ctx)
	if err != nil {
		for _, a := range alterations {
			r := newRawEntity(a.Entity)
			if results[r.key()] == nil {
				order = append(order, r.key())
				results[r.key()] = &QuotaAlterationResult{Entity: r.parts, Err: err}
			}
		}
		return collectResults(order, results)
	}
	defer done()

	img := c.Image()
	var records []Record
	for _, a := range alterations {
		r := newRawEntity(a.Entity)
		k := r.key()
		res := results[k]
		seen := res != nil
		if !seen {
			res = &QuotaAlterationResult{Entity: r.parts}
			results[k] = res
			order = append(order, k)
		}
		ops := map[string]*float64{}
		var keys []string
		dupKey := false
		for _, op := range a.Ops {
			if _, ok := ops[op.Key]; ok {
				dupKey = true
				continue
			}
			ops[op.Key] = op.Value
			keys = append(keys, op.Key)
		}
		// As Kafka: a repeated key gives the entity a result, and an entity
		// that has one (from this alteration or an earlier one, whose
		// records stay) is reported as ignored.
		if dupKey || seen {
			res.Err = quotaError("Ignoring duplicate entity %s", r)
			continue
		}
		recs, err := c.alterEntity(ctx, img, r, ops, javaHashOrder(keys, len(a.Ops)))
		res.Err = err
		records = append(records, recs...)
	}
	if validateOnly || len(records) == 0 {
		return collectResults(order, results)
	}
	if _, err := c.apply(ctx, records); err != nil {
		for _, k := range order {
			if results[k].Err == nil {
				results[k].Err = err
			}
		}
	}
	return collectResults(order, results)
}

// collectResults lists the results as Kafka's response does: in the order
// of its HashMap<ClientQuotaEntity, ApiError> (default capacity), by
// bucket, then in the order the entities were first met.
func collectResults(order []string, results map[string]*QuotaAlterationResult) []QuotaAlterationResult {
	out := make([]QuotaAlterationResult, len(order))
	for i, k := range order {
		out[i] = *results[k]
	}
	table := javaTableSize(16, len(out))
	slices.SortStableFunc(out, func(a, b QuotaAlterationResult) int {
		return cmp.Compare(javaBucket(javaEntityHash(a.Entity), table), javaBucket(javaEntityHash(b.Entity), table))
	})
	return out
}

// QuotaKeysInKafkaOrder lists an entity's quota keys in the order Kafka's
// ClientQuotaImage (a HashMap) iterates them.
func QuotaKeysInKafkaOrder(values map[string]float64) []string {
	return javaHashOrder(slices.Sorted(maps.Keys(values)), len(values))
}

// alterEntity validates one entity's operations and returns its records
// (Kafka's alterClientQuotaEntity). Records of keys before a failing one
// are dropped with it.
func (c *Controller) alterEntity(ctx context.Context, img *MetadataImage, r rawEntity, ops map[string]*float64, keys []string) ([]Record, error) {
	if len(r.parts) == 0 {
		return nil, quotaError("Invalid empty client quota entity")
	}
	for _, p := range r.parts {
		switch p.EntityType {
		case quota.EntityUser, quota.EntityClientID, quota.EntityIP:
		default:
			return nil, quotaError("Unhandled client quota entity type: %s", p.EntityType)
		}
		if p.EntityName != nil && *p.EntityName == "" {
			return nil, quotaError("Empty %s not supported", p.EntityType)
		}
	}
	e, err := entityOf(r.parts)
	if err != nil {
		return nil, quotaError("Invalid empty client quota entity")
	}
	if e.IsIP() {
		if e.User.Kind != quota.Absent || e.ClientID.Kind != quota.Absent {
			// Kafka's message lacks the space between "should" and "not".
			return nil, quotaError("Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId")
		}
		if e.IP.Kind == quota.Named && !validIPEntity(ctx, e.IP.Name) {
			return nil, quotaError("%s is not a valid IP or resolvable host.", e.IP.Name)
		}
	}
	current := img.clientQuota(e)
	var records []Record
	for _, k := range keys {
		v := ops[k]
		if v == nil {
			if _, ok := current[k]; ok {
				records = append(records, &ClientQuotaRecord{Entity: entityData(e), Key: k, Remove: true})
			}
			continue
		}
		if err := validateQuotaValue(e.IsIP(), k, *v); err != nil {
			return nil, err
		}
		if cur, ok := current[k]; !ok || cur != *v {
			records = append(records, &ClientQuotaRecord{Entity: entityData(e), Key: k, Value: *v})
		}
	}
	return records, nil
}

// validateQuotaValue is Kafka's validateQuotaKeyValue.
func validateQuotaValue(ip bool, key string, v float64) error {
	typ := quota.KeyTypeOf(ip, key)
	if typ == quota.KeyUnknown {
		return quotaError("Invalid configuration key %s", key)
	}
	if v <= 0 {
		return quotaError("Quota %s must be greater than 0", key)
	}
	switch typ {
	case quota.KeyInt:
		if v > math.MaxInt32 {
			return quotaError("Proposed value for %s is too large for an INT.", key)
		}
	case quota.KeyLong:
		if v > math.MaxInt64 {
			return quotaError("Proposed value for %s is too large for a LONG.", key)
		}
	case quota.KeyDouble:
		return nil
	}
	if math.Abs(math.Mod(v, 1)) > 1e-6 {
		return quotaError("%s cannot be a fractional value.", key)
	}
	return nil
}

// validIPEntity is Kafka's isValidIpEntity: an IP literal or a name that
// resolves (InetAddress.getByName).
func validIPEntity(ctx context.Context, name string) bool {
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	return err == nil && len(addrs) > 0
}

// Match types of DescribeClientQuotas filter components.
const (
	QuotaMatchExact     int8 = 0 // the entity with this name
	QuotaMatchDefault   int8 = 1 // the default entity
	QuotaMatchSpecified int8 = 2 // any entity of the type, the default included
)

// QuotaFilterComponent is one component of a DescribeClientQuotas filter.
type QuotaFilterComponent struct {
	EntityType string
	MatchType  int8
	Match      *string
}

// QuotaEntry is one entity's quotas in a DescribeClientQuotas answer.
type QuotaEntry struct {
	Entity []QuotaEntityData
	Values map[string]float64
}

// DescribeClientQuotas lists the entities matching the filter (Kafka's
// ClientQuotasImage.describe): every component must match; with strict, the
// entity must have no other components. Invalid filters are errors wrapping
// ErrInvalidRequest or ErrUnsupportedVersion with Kafka's message.
func (m *MetadataImage) DescribeClientQuotas(components []QuotaFilterComponent, strict bool) ([]QuotaEntry, error) {
	exact := map[string]quota.EntityName{}
	typed := map[string]bool{}
	for _, c := range components {
		if c.EntityType == "" {
			return nil, quotaError("Invalid empty entity type.")
		}
		if _, ok := exact[c.EntityType]; ok || typed[c.EntityType] {
			return nil, quotaError("Entity type %s cannot appear more than once in the filter.", c.EntityType)
		}
		switch c.EntityType {
		case quota.EntityUser, quota.EntityClientID, quota.EntityIP:
		default:
			return nil, fmt.Errorf("%w: Unsupported entity type %s", ErrUnsupportedVersion, c.EntityType)
		}
		switch c.MatchType {
		case QuotaMatchExact:
			if c.Match == nil {
				return nil, quotaError("Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
			exact[c.EntityType] = quota.Name(*c.Match)
		case QuotaMatchDefault:
			if c.Match != nil {
				return nil, quotaError("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
			exact[c.EntityType] = quota.DefaultName
		case QuotaMatchSpecified:
			if c.Match != nil {
				return nil, quotaError("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
			typed[c.EntityType] = true
		default:
			return nil, quotaError("Unknown match type %d", c.MatchType)
		}
	}
	has := func(t string) bool { _, ok := exact[t]; return ok || typed[t] }
	if has(quota.EntityIP) && (has(quota.EntityUser) || has(quota.EntityClientID)) {
		return nil, quotaError("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	var out []QuotaEntry
	for _, e := range m.clientQuotas.javaOrder() {
		if strict && len(e.Components()) != len(exact)+len(typed) {
			continue
		}
		ok := true
		for t, want := range exact {
			if got, _ := e.Part(t); got != want {
				ok = false
			}
		}
		for t := range typed {
			if got, _ := e.Part(t); got.Kind == quota.Absent {
				ok = false
			}
		}
		if ok {
			out = append(out, QuotaEntry{Entity: entityData(e), Values: m.clientQuotas.entities[e].values})
		}
	}
	return out, nil
}

// javaOrder lists the entities in the order Kafka's ClientQuotasImage
// iterates them, which is the order of its DescribeClientQuotas answers and
// so, where two entities share a bucket of the client's own map, of
// kafka-configs.sh's output: a java.util.HashMap rebuilt for every metadata
// delta (sized for the entities it held), by bucket of
// ClientQuotaEntity.hashCode, then in creation order.
func (s clientQuotaSet) javaOrder() []quota.Entity {
	table := javaTableSize(len(s.entities), len(s.entities))
	bucket := map[quota.Entity]int{}
	for e := range s.entities {
		bucket[e] = javaBucket(javaEntityHash(entityData(e)), table)
	}
	out := s.orderedEntities()
	slices.SortStableFunc(out, func(a, b quota.Entity) int { return cmp.Compare(bucket[a], bucket[b]) })
	return out
}

// PartitionChangeQuota is charged with the number of partitions each topic
// of CreateTopics, CreatePartitions or DeleteTopics creates or deletes, once
// the topic has passed validation (Kafka's
// ControllerRequestContext.applyPartitionChangeQuota). An error refuses
// that topic; it should wrap ErrThrottlingQuotaExceeded.
type PartitionChangeQuota func(partitions int) error

type partitionQuotaKey struct{}

// WithPartitionChangeQuota returns a context whose metadata operations
// charge q: the controller mutation quota of the client that asked.
func WithPartitionChangeQuota(ctx context.Context, q PartitionChangeQuota) context.Context {
	return context.WithValue(ctx, partitionQuotaKey{}, q)
}

// applyPartitionChangeQuota charges the context's quota, if any.
func applyPartitionChangeQuota(ctx context.Context, partitions int) error {
	if q, ok := ctx.Value(partitionQuotaKey{}).(PartitionChangeQuota); ok && q != nil {
		return q(partitions)
	}
	return nil
}

// forwardedQuotaCheck is the forwarding broker's half of the controller
// mutation quota: the active controller cannot see the quota of a client on
// another broker (Kafka passes the principal in an EnvelopeRequest), so the
// broker that received CreateTopics, CreatePartitions or DeleteTopics
// refuses it while a strict quota is already exceeded (as Kafka's
// ControllerMutationQuota.record: a request that starts with tokens left is
// accepted whole) ...
func forwardedQuotaCheck(ctx context.Context) error { return applyPartitionChangeQuota(ctx, 0) }

// ... and charges the partitions the controller accepted. A strict quota
// that another request exhausted meanwhile refuses the charge; the
// partitions exist, so that is ignored.
func chargeForwarded(ctx context.Context, partitions int) {
	if partitions > 0 {
		_ = applyPartitionChangeQuota(ctx, partitions)
	}
}
