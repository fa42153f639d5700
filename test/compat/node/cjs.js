// Runs one compatibility scenario with @confluentinc/kafka-javascript (librdkafka underneath),
// through its KafkaJS-compatible API:
//
//     node cjs.js confluent-js SCENARIO BOOTSTRAP TOPIC
//
// Exits 0 when the scenario passed. Scenario semantics match compat.js (kafkajs), test/compat/go
// and py/compat.py: records with keys and headers on partition 0 of TOPIC. Differences from
// kafkajs that shape this file (see the package's MIGRATION.md): configuration goes under
// `kafkaJS: {...}`; acks, compression and idempotence are per producer, not per send();
// fromBeginning and autoCommit are per consumer; the KafkaJS admin has no createPartitions,
// so admin-topics uses the package's native AdminClient for that one call.
'use strict';
const cjs = require('@confluentinc/kafka-javascript');
const { Kafka, CompressionTypes, logLevel } = cjs.KafkaJS;

const [client, scenario, bootstrap, topic] = process.argv.slice(2);
const kafka = new Kafka({
  kafkaJS: { clientId: 'spool-compat-cjs', brokers: bootstrap.split(','), logLevel: logLevel.ERROR },
});

function makeRecs(prefix, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ key: `${prefix}-key-${i}`, value: `${prefix}-value-${i}`, headers: { h1: prefix, idx: String(i) } });
  }
  return out;
}

function compare(got, want) {
  if (got.length !== want.length) throw new Error(`got ${got.length} records, want ${want.length}`);
  want.forEach((w, i) => {
    const g = got[i];
    if (g.key !== w.key || g.value !== w.value) {
      throw new Error(`record ${i}: got ${g.key} ${g.value}, want ${w.key} ${w.value}`);
    }
    for (const [k, v] of Object.entries(w.headers)) {
      if (g.headers[k] !== v) throw new Error(`record ${i}: header ${k}=${g.headers[k]}, want ${v}`);
    }
  });
}

function decode(m) {
  const headers = {};
  for (const [k, v] of Object.entries(m.headers || {})) {
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    headers[k] = one == null ? one : one.toString();
  }
  return { key: m.key && m.key.toString(), value: m.value && m.value.toString(), headers, offset: m.offset };
}

const toMessages = (recs) => recs.map((r) => ({ ...r, partition: 0 }));

async function produce(recs, opts = {}) {
  const p = kafka.producer({
    kafkaJS: { acks: -1, compression: opts.codec || CompressionTypes.None, idempotent: !!opts.idempotent },
  });
  await p.connect();
  try {
    await p.send({ topic, messages: toMessages(recs) }); // resolves once every record is acked
  } finally {
    await p.disconnect();
  }
}

// consume reads n records of TOPIC partition 0 from the beginning (or from GROUP's committed
// offset) as a member of GROUP; with opts.commit it commits each record's offset+1 as it goes.
async function consume(n, group = `${topic}-read-${Date.now()}`, opts = {}) {
  const c = kafka.consumer({
    kafkaJS: { groupId: group, fromBeginning: true, autoCommit: false, readUncommitted: !!opts.readUncommitted },
  });
  await c.connect();
  const got = [];
  try {
    await c.subscribe({ topics: [topic] });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} records`)), 40000);
      c.run({
        eachMessage: async ({ partition, message }) => {
          if (got.length >= n) return;
          got.push(decode(message));
          if (opts.commit) {
            await c.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
          }
          if (got.length === n) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
  } finally {
    await c.disconnect();
  }
  return got;
}

async function roundTrip(recs, opts) {
  await produce(recs, opts);
  compare(await consume(recs.length), recs);
}

async function waitFor(what, fn, secs = 15) {
  for (let i = 0; i < secs * 4; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// toEof reads partition 0 with the package's native (node-rdkafka) API, which reports partition
// EOF: assigned at `start`, or as a member of conf's group.id when start is null. It asserts
// `lines` records were read and EOF came at `eofOffset`. A Fetch response librdkafka cannot parse
// (a null record set) never reaches EOF: a timeout.
function toEof(start, lines, eofOffset, conf = {}) {
  return new Promise((resolve, reject) => {
    const c = new cjs.KafkaConsumer(
      {
        'bootstrap.servers': bootstrap,
        'group.id': `${topic}-eof-${Date.now()}`,
        'enable.auto.commit': false,
        'enable.partition.eof': true,
        ...conf,
      },
      {},
    );
    const got = [];
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.disconnect(() => (err ? reject(err) : resolve(got)));
    };
    const timer = setTimeout(() => finish(new Error(`no partition EOF within 20s (${got.length} records read)`)), 20000);
    c.on('ready', () => {
      if (start === null) c.subscribe([topic]);
      else c.assign([{ topic, partition: 0, offset: start }]);
      c.consume();
    });
    c.on('data', (m) => got.push(m));
    c.on('partition.eof', (e) => {
      if (got.length !== lines || e.offset !== eofOffset) {
        finish(new Error(`read ${got.length} records and reached EOF at ${e.offset}, want ${lines} and ${eofOffset}`));
      } else {
        finish();
      }
    });
    c.on('event.error', (e) => finish(e));
    c.connect({}, (e) => e && finish(e));
  });
}

const scenarios = {
  // An empty partition, a group without offsets reset to the end, and a fetch reset after
  // OFFSET_OUT_OF_RANGE all reach partition EOF (issue 11).
  'consume-eof': async () => {
    await toEof(0, 0, 0);
    const recs = makeRecs('eof', 5);
    await produce(recs);
    await toEof(null, 0, 5, { 'group.id': `${topic}-g`, 'auto.offset.reset': 'latest' });
    await toEof(100, 0, 5, { 'auto.offset.reset': 'latest' });
    // Native messages carry headers as a list of one-key objects.
    const got = await toEof(0, 5, 5);
    compare(got.map((m) => decode({ ...m, headers: Object.assign({}, ...(m.headers || [])) })), recs);
  },

  // A partition holding only an aborted transaction: read_committed reads nothing and reaches
  // EOF past the abort marker; read_uncommitted reads the 5 aborted records.
  'consume-eof-aborted': async () => {
    const p = kafka.producer({ kafkaJS: { transactionalId: `${topic}-abort`, idempotent: true, acks: -1 } });
    await p.connect();
    try {
      const txn = await p.transaction();
      await txn.send({ topic, messages: toMessages(makeRecs('aborted', 5)) });
      await txn.abort();
    } finally {
      await p.disconnect();
    }
    await toEof(0, 0, 6, { 'isolation.level': 'read_committed' });
    await toEof(0, 5, 6, { 'isolation.level': 'read_uncommitted' });
  },

  'produce-consume': () => roundTrip(makeRecs('pc', 10)),

  // librdkafka implements every codec; one producer per codec (compression is per producer).
  'produce-codecs': async () => {
    const want = [];
    for (const name of ['None', 'GZIP', 'SNAPPY', 'LZ4', 'ZSTD']) {
      const recs = makeRecs(name.toLowerCase(), 5);
      await produce(recs, { codec: CompressionTypes[name] });
      want.push(...recs);
    }
    compare(await consume(want.length), want);
  },

  idempotent: () => roundTrip(makeRecs('idem', 10), { idempotent: true }),

  // Produce 10; a group member reads and commits 5 and leaves; a new member of the same
  // group must resume at offset 5.
  'group-commit-resume': async () => {
    const want = makeRecs('grp', 10);
    await produce(want);
    const group = `${topic}-g`;
    compare(await consume(5, group, { commit: true }), want.slice(0, 5));
    const second = await consume(5, group, { commit: true });
    try {
      compare(second, want.slice(5));
    } catch (e) {
      throw new Error(`second member did not resume at the commit: ${e.message}`);
    }
  },

  // Three transactions, the middle one aborted: a read_committed consumer sees the other two,
  // a read_uncommitted one all three (so the aborted records were written, then filtered).
  transactions: async () => {
    const p = kafka.producer({ kafkaJS: { transactionalId: `${topic}-tx`, idempotent: true, acks: -1 } });
    await p.connect();
    const want = [];
    const all = [];
    try {
      for (const [i, commit] of [true, false, true].entries()) {
        const recs = makeRecs(`tx${i}`, 5);
        const txn = await p.transaction();
        await txn.send({ topic, messages: toMessages(recs) });
        all.push(...recs);
        if (commit) {
          await txn.commit();
          want.push(...recs);
        } else {
          await txn.abort();
        }
      }
    } finally {
      await p.disconnect();
    }
    try {
      compare(await consume(want.length), want);
    } catch (e) {
      throw new Error(`read_committed: ${e.message}`);
    }
    try {
      compare(await consume(all.length, undefined, { readUncommitted: true }), all);
    } catch (e) {
      throw new Error(`read_uncommitted: ${e.message}`);
    }
  },

  // KIP-848 through the KafkaJS API (group.protocol=consumer, librdkafka's consumer protocol),
  // as py/compat.py's group_consumer_protocol: two members split four partitions with
  // disjoint assignments from the broker's assignor, read 40 records once, and the survivor
  // is given all four partitions (and reads on) when the other leaves.
  'group-consumer-protocol': async () => {
    const a = kafka.admin();
    await a.connect();
    try {
      await a.createTopics({ timeout: 30000, topics: [{ topic, numPartitions: 4, replicationFactor: Number(process.env.COMPAT_RF || 1) }] });
    } finally {
      await a.disconnect();
    }
    const group = `${topic}-g`;
    const got = new Map(); // value → member index
    const reads = [[], []]; // per member: [partition, value]
    const members = [0, 1].map(() =>
      kafka.consumer({ 'group.protocol': 'consumer', kafkaJS: { groupId: group, fromBeginning: true, autoCommit: false } }));
  // assignment() lists one {topic, partition} per partition here (its doc says {topic, partitions}).
  const owned = (c) => new Set(c.assignment().flatMap((tp) => tp.partitions ?? [tp.partition]));
    try {
      for (const [i, c] of members.entries()) {
        await c.connect();
        await c.subscribe({ topics: [topic] });
        c.run({
          eachMessage: async ({ partition, message }) => {
            const v = message.value.toString();
            if (got.has(v)) throw new Error(`${v} read twice (members ${got.get(v)} and ${i})`);
            got.set(v, i);
            reads[i].push([partition, v]);
            await c.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          },
        });
      }
      let split = [];
      await waitFor('disjoint assignments covering 4 partitions', async () => {
        split = members.map(owned);
        const all = new Set([...split[0], ...split[1]]);
        return split[0].size > 0 && split[1].size > 0 && split[0].size + split[1].size === 4 && all.size === 4;
      }, 60);
      const p = kafka.producer({ kafkaJS: { acks: -1 } });
      await p.connect();
      try {
        await p.send({ topic, messages: [...Array(40).keys()].map((i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 4 })) });
        await waitFor('40 records read', async () => got.size === 40, 60);
        for (const [i, rs] of reads.entries()) {
          for (const [part, v] of rs) {
            if (!split[i].has(part)) throw new Error(`member ${i} read ${v} from partition ${part}, assigned ${[...split[i]]}`);
          }
        }
        await members[1].disconnect();
        members.pop();
        await waitFor('the survivor owns all 4 partitions', async () => owned(members[0]).size === 4, 60);
        await p.send({ topic, messages: [...Array(8).keys()].map((i) => ({ key: `k${40 + i}`, value: `v${40 + i}`, partition: i % 4 })) });
        await waitFor('8 more records read by the survivor', async () => got.size === 48, 60);
      } finally {
        await p.disconnect();
      }
      console.log(`members split partitions ${split.map((s) => [...s].sort().join(',')).join(' | ')}; 48 records read once`);
    } finally {
      for (const c of members) await c.disconnect();
    }
  },

  'admin-topics': async () => {
    const a = kafka.admin();
    await a.connect();
    try {
      const created = await a.createTopics({
        timeout: 30000,
        topics: [{ topic, numPartitions: 3, replicationFactor: Number(process.env.COMPAT_RF || 1), configEntries: [{ name: 'retention.ms', value: '604800000' }] }],
      });
      if (!created) throw new Error('createTopics returned false: topic already existed');
      await waitFor('topic in listTopics', async () => (await a.listTopics()).includes(topic));
      // fetchTopicMetadata resolves to an array of topics here (kafkajs: { topics: [...] }).
      const parts = async () => {
        const md = await a.fetchTopicMetadata({ topics: [topic], timeout: 10000 });
        return (Array.isArray(md) ? md : md.topics)[0].partitions.length;
      };
      await waitFor('3 partitions', async () => (await parts()) === 3);
      const native = cjs.AdminClient.create({ 'bootstrap.servers': bootstrap, 'client.id': 'spool-compat-cjs', log_level: 3 });
      try {
        await new Promise((resolve, reject) => native.createPartitions(topic, 6, 30000, (e) => (e ? reject(e) : resolve())));
      } finally {
        native.disconnect();
      }
      await waitFor('6 partitions', async () => (await parts()) === 6);
      await a.deleteTopics({ topics: [topic], timeout: 30000 });
      await waitFor('topic gone from listTopics', async () => !(await a.listTopics()).includes(topic));
    } finally {
      await a.disconnect();
    }
  },
};

(async () => {
  if (client !== 'confluent-js') throw new Error(`unknown client ${client} (cjs.js runs confluent-js)`);
  const fn = scenarios[scenario];
  if (!fn) throw new Error(`scenario ${scenario} not implemented for ${client}`);
  await fn();
  console.log(`${client} ${scenario}: ok`);
})().then(
  () => process.exit(0),
  (e) => {
    console.error(`FAIL: ${e.stack || e}`);
    process.exit(1);
  },
);
