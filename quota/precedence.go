package quota

// Which quota a client gets, and which clients share a rate, follow Kafka's
// DefaultQuotaCallback. The most specific configured entity wins, in this
// order (the first that exists applies):
//
//	1. user <user>,    client-id <client-id>
//	2. user <user>,    client-id <default>
//	3. user <user>
//	4. user <default>, client-id <client-id>
//	5. user <default>, client-id <default>
//	6. user <default>
//	7. client-id <client-id>
//	8. client-id <default>
//
// Usage is recorded per metric tags (user, client-id): the entity level
// that matched decides which of the two the tags keep, so clients of one
// user share a user-level rate and each client-id of a <default> client-id
// quota has its own. While quotas of only one level were ever configured
// for a quota type, that level's tags are used without looking at the
// entities, as Kafka does.

// Levels of entities ever configured for one quota type (Kafka's
// QuotaTypes). Once set a bit stays set until restart, as in Kafka.
const (
	levelClientID     uint8 = 1
	levelUser         uint8 = 2
	levelUserClientID uint8 = 4
)

// tags are a client's quota metric tags: the key of its rate. Empty means
// the component is not part of the key. The user is the principal name as
// given, sanitized only when exported as a metric label.
type tags struct {
	user     string
	clientID string
}

// typeQuotas are the configured quotas of one quota type (Kafka's
// DefaultQuotaCallback.overriddenQuotas and the manager's quotaTypesEnabled).
// Not safe for concurrent use; the manager guards it.
type typeQuotas struct {
	enabled uint8
	bounds  map[Entity]float64
}

// set records a change of one entity's quota: bound nil removes it. Both
// enable the entity's level, as Kafka's updateQuota does.
func (q *typeQuotas) set(e Entity, bound *float64) {
	switch {
	case e.User.Kind != Absent && e.ClientID.Kind != Absent:
		q.enabled |= levelUserClientID
	case e.User.Kind != Absent:
		q.enabled |= levelUser
	case e.ClientID.Kind != Absent:
		q.enabled |= levelClientID
	}
	if bound == nil {
		delete(q.bounds, e)
		return
	}
	if q.bounds == nil {
		q.bounds = map[Entity]float64{}
	}
	q.bounds[e] = *bound
}

func (q *typeQuotas) has(user, client EntityName) bool {
	_, ok := q.bounds[Entity{User: user, ClientID: client}]
	return ok
}

// tagsFor is DefaultQuotaCallback.quotaMetricTags.
func (q *typeQuotas) tagsFor(user, clientID string) tags {
	switch q.enabled {
	case 0, levelClientID:
		return tags{clientID: clientID}
	case levelUser:
		return tags{user: user}
	case levelUserClientID:
		return tags{user: user, clientID: clientID}
	}
	u, c := Name(user), Name(clientID)
	switch {
	case q.has(u, c), q.has(u, DefaultName): // 1, 2
		return tags{user: user, clientID: clientID}
	case q.has(u, EntityName{}): // 3
		return tags{user: user}
	case q.has(DefaultName, c), q.has(DefaultName, DefaultName): // 4, 5
		return tags{user: user, clientID: clientID}
	case q.has(DefaultName, EntityName{}): // 6
		return tags{user: user}
	}
	return tags{clientID: clientID} // 7, 8
}

// limit is DefaultQuotaCallback.quotaLimit: the bound for clients with
// these tags, false for no quota.
func (q *typeQuotas) limit(t tags) (float64, bool) {
	u, c := Name(t.user), Name(t.clientID)
	var candidates []Entity
	switch {
	case t.user != "" && t.clientID != "":
		candidates = []Entity{{User: u, ClientID: c}, {User: u, ClientID: DefaultName},
			{User: DefaultName, ClientID: c}, {User: DefaultName, ClientID: DefaultName}}
	case t.user != "":
		candidates = []Entity{{User: u}, {User: DefaultName}}
	case t.clientID != "":
		candidates = []Entity{{ClientID: c}, {ClientID: DefaultName}}
	}
	for _, e := range candidates {
		if b, ok := q.bounds[e]; ok {
			return b, true
		}
	}
	return 0, false
}
