// Runs one compatibility scenario with a Node.js client:
//
//     node compat.js CLIENT SCENARIO BOOTSTRAP TOPIC
//
// CLIENT is kafkajs (@confluentinc/kafka-javascript, client confluent-js, is node/cjs.js).
// Exits 0 when the scenario passed. Scenario semantics match test/compat/go and py/compat.py:
// records with keys and headers on partition 0 of TOPIC.
'use strict';
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const [client, scenario, bootstrap, topic] = process.argv.slice(2);

// security is the SASL_SSL columns' login (lib/secure.sh): SCRAM-SHA-512 as
// COMPAT_SASL_USER over TLS trusting COMPAT_CA_PEM; nothing on the others.
function security() {
  const user = process.env.COMPAT_SASL_USER;
  if (!user) return {};
  return {
    ssl: { ca: [require('fs').readFileSync(process.env.COMPAT_CA_PEM, 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', username: user, password: process.env.COMPAT_SASL_PASS },
  };
}

const kafka = new Kafka({
  clientId: 'spool-compat',
  brokers: bootstrap.split(','),
  logLevel: logLevel.ERROR,
  retry: { retries: 8 },
  // kafkajs's default (1 s) is short for a TLS handshake with a JVM broker on a loaded machine.
  connectionTimeout: 10000,
  ...security(),
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
  for (const [k, v] of Object.entries(m.headers || {})) headers[k] = v == null ? v : v.toString();
  return { key: m.key && m.key.toString(), value: m.value && m.value.toString(), headers, offset: m.offset };
}

async function produce(recs, opts = {}) {
  const p = kafka.producer({ idempotent: !!opts.idempotent, maxInFlightRequests: opts.idempotent ? 1 : undefined });
  await p.connect();
  try {
    await p.send({
      topic,
      acks: -1,
      compression: opts.codec || CompressionTypes.None,
      messages: recs.map((r) => ({ ...r, partition: 0 })),
    });
  } finally {
    await p.disconnect();
  }
}

// consume reads n records of TOPIC partition 0 from the beginning. kafkajs has no assign(), so
// this is a throwaway group that commits nothing.
async function consume(n, group = `${topic}-read-${Date.now()}`, opts = {}) {
  const c = kafka.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 500 });
  await c.connect();
  const got = [];
  try {
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} records`)), 40000);
      c.run({
        autoCommit: false,
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

// waitFor polls fn until it returns true; an error (a broker of a cluster that has not
// applied the change yet answers UNKNOWN_TOPIC_OR_PARTITION) counts as not yet.
async function waitFor(what, fn) {
  let last;
  for (let i = 0; i < 60; i++) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

const scenarios = {
  'produce-consume': () => roundTrip(makeRecs('pc', 10)),

  // kafkajs implements none and gzip itself; snappy, lz4 and zstd need third-party codecs.
  'produce-codecs': async () => {
    const want = [];
    for (const [name, codec] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]) {
      const recs = makeRecs(name, 5);
      await produce(recs, { codec });
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

  // Three transactions, the middle one aborted; a read_committed consumer sees the other two.
  transactions: async () => {
    const p = kafka.producer({ transactionalId: `${topic}-tx`, idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    const want = [];
    try {
      for (const [i, commit] of [true, false, true].entries()) {
        const recs = makeRecs(`tx${i}`, 5);
        const txn = await p.transaction();
        await txn.send({ topic, acks: -1, messages: recs.map((r) => ({ ...r, partition: 0 })) });
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
    compare(await consume(want.length), want);
  },

  'admin-topics': async () => {
    const a = kafka.admin();
    await a.connect();
    try {
      // kafkajs's waitForLeaders gives up when the broker it asks has not applied the topic yet
      // (UNKNOWN_TOPIC_OR_PARTITION on a cluster); the waits below poll every answer instead.
      const created = await a.createTopics({
        waitForLeaders: false,
        topics: [{ topic, numPartitions: 3, replicationFactor: Number(process.env.COMPAT_RF || 1), configEntries: [{ name: 'retention.ms', value: '604800000' }] }],
      });
      if (!created) throw new Error('createTopics returned false: topic already existed');
      await waitFor('topic in listTopics', async () => (await a.listTopics()).includes(topic));
      const parts = async () => (await a.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length;
      await waitFor('3 partitions', async () => (await parts()) === 3);
      await a.createPartitions({ topicPartitions: [{ topic, count: 6 }] });
      await waitFor('6 partitions', async () => (await parts()) === 6);
      await a.deleteTopics({ topics: [topic], timeout: 30000 });
      await waitFor('topic gone from listTopics', async () => !(await a.listTopics()).includes(topic));
    } finally {
      await a.disconnect();
    }
  },
};

(async () => {
  if (client !== 'kafkajs') throw new Error(`unknown node client ${client}`);
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
