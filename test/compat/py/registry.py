"""The schema-registry scenario's client side (scenarios/registry.sh): confluent-kafka-python's
Schema Registry client and its Avro and JSON Schema serdes, talking to Apicurio Registry's
Confluent-compatible API (ccompat v7), whose storage is the Kafka topic the scenario names.

    python registry.py produce BOOTSTRAP TOPIC REGISTRY_URL
    python registry.py verify  BOOTSTRAP TOPIC REGISTRY_URL

produce registers an Avro schema and its backward-compatible second version (a field with a
default) under TOPIC-value, a JSON schema under TOPIC-json-value, produces N records with each
(the serializers write the magic byte and the registry's schema id before the payload), checks
that an incompatible change is refused, consumes everything back through the deserializers and
writes what it registered to stdout as the last line (JSON).

verify runs against a registry restarted from the same Kafka topic: with a new client (no cached
schemas), the subjects, versions and ids are the ones registered before, and every record
deserializes again (each deserializer fetches its schema by id from the restarted registry).
Exits 0 when the scenario passed.
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

N = 50
# Confluent's Java serdes' default: the subject is TOPIC-value. (confluent-kafka-python 2.16's
# default first asks the registry for the topic's associations, an API Confluent added lately.)
TOPIC_NAMES = {"subject.name.strategy.type": "TOPIC"}

AVRO_V1 = json.dumps({
    "type": "record", "name": "Order", "namespace": "compat",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "qty", "type": "int"},
    ],
})
# v2 adds a field with a default: backward compatible, the registry's default rule.
AVRO_V2 = json.dumps({
    "type": "record", "name": "Order", "namespace": "compat",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": "string", "default": "none"},
    ],
})
# A new required field without a default: not backward compatible with v2.
AVRO_BAD = json.dumps({
    "type": "record", "name": "Order", "namespace": "compat",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": "string", "default": "none"},
        {"name": "price", "type": "double"},
    ],
})
JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Event", "type": "object",
    "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}},
    "required": ["id", "kind"],
})


def avro_value(i):
    if i < N:
        return {"id": i, "item": f"item-{i}", "qty": i % 7}
    return {"id": i, "item": f"item-{i}", "qty": i % 7, "note": f"n{i}"}


def json_value(i):
    return {"id": i, "kind": f"kind-{i % 3}"}


def produce(bootstrap, topic, url):
    sr = SchemaRegistryClient({"url": url})
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errs = []

    def report(err, _msg):
        if err is not None:
            errs.append(err)

    ser_v1 = AvroSerializer(sr, AVRO_V1, conf={"auto.register.schemas": True, **TOPIC_NAMES})
    ser_v2 = AvroSerializer(sr, AVRO_V2, conf={"auto.register.schemas": True, **TOPIC_NAMES})
    ser_json = JSONSerializer(JSON_SCHEMA, sr, conf={"auto.register.schemas": True, **TOPIC_NAMES})
    for i in range(2 * N):
        ser = ser_v1 if i < N else ser_v2
        ctx = SerializationContext(topic, MessageField.VALUE)
        p.produce(topic, key=str(i).encode(), value=ser(avro_value(i), ctx), on_delivery=report)
        jctx = SerializationContext(topic + "-json", MessageField.VALUE)
        p.produce(topic + "-json", key=str(i).encode(), value=ser_json(json_value(i), jctx), on_delivery=report)
        p.poll(0)
    left = p.flush(30)
    if left or errs:
        raise AssertionError(f"produce: {left} undelivered, errors {errs[:3]}")

    subject = topic + "-value"
    versions = sr.get_versions(subject)
    if versions != [1, 2]:
        raise AssertionError(f"{subject} versions {versions}, want [1, 2]")
    # Apicurio, unlike Confluent's registry, has no global BACKWARD rule by default: set it on
    # the subject (a rule kept in the registry's Kafka topic too, checked after the restart).
    sr.set_compatibility(subject, "BACKWARD")
    if sr.test_compatibility(subject, Schema(AVRO_BAD, "AVRO")):
        raise AssertionError("an incompatible Avro change was accepted")
    try:
        sr.register_schema(subject, Schema(AVRO_BAD, "AVRO"))
        raise AssertionError("registering an incompatible Avro change succeeded")
    except SchemaRegistryError as e:
        if e.http_status_code != 409:
            raise
        print(f"incompatible change refused: HTTP {e.http_status_code} code {e.error_code}")
    registered = registered_state(sr, topic)
    check_records(bootstrap, topic, sr)
    print(json.dumps(registered))


def registered_state(sr, topic):
    """The subjects, versions, ids and schema texts the registry serves for this run."""
    out = {}
    for subject in sorted(s for s in sr.get_subjects() if s.startswith(topic)):
        for v in sr.get_versions(subject):
            rs = sr.get_version(subject, v)
            out[f"{subject}/{v}"] = {"id": rs.schema_id, "type": rs.schema.schema_type,
                                     "schema": json.loads(rs.schema.schema_str)}
    if sorted(out) != [f"{topic}-json-value/1", f"{topic}-value/1", f"{topic}-value/2"]:
        raise AssertionError(f"registered {sorted(out)}")
    out["compatibility"] = sr.get_compatibility(topic + "-value")
    if out["compatibility"] != "BACKWARD":
        raise AssertionError(f"{topic}-value compatibility {out['compatibility']}, want BACKWARD")
    return out


def consume_all(bootstrap, topic, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader-{time.time_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got, deadline = [], time.time() + 60
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise AssertionError(f"consume {topic}: {m.error()}")
        got.append(m)
    c.close()
    if len(got) != n:
        raise AssertionError(f"consume {topic}: {len(got)} records, want {n}")
    return got


def check_records(bootstrap, topic, sr):
    """Every record of both topics deserializes, through schemas fetched by id, to what was sent."""
    de_avro = AvroDeserializer(sr, conf=TOPIC_NAMES)  # no reader schema: each record's writer schema, by id
    for m in consume_all(bootstrap, topic, 2 * N):
        i = int(m.key())
        v = de_avro(m.value(), SerializationContext(topic, MessageField.VALUE))
        if v != avro_value(i):
            raise AssertionError(f"avro record {i}: {v}, want {avro_value(i)}")
    de_json = JSONDeserializer(JSON_SCHEMA, schema_registry_client=sr, conf=TOPIC_NAMES)
    for m in consume_all(bootstrap, topic + "-json", 2 * N):
        i = int(m.key())
        v = de_json(m.value(), SerializationContext(topic + "-json", MessageField.VALUE))
        if v != json_value(i):
            raise AssertionError(f"json record {i}: {v}, want {json_value(i)}")
    print(f"{2 * N} Avro records (schema versions 1 and 2) and {2 * N} JSON records deserialized")


def verify(bootstrap, topic, url, before):
    sr = SchemaRegistryClient({"url": url})
    now = registered_state(sr, topic)
    if now != before:
        raise AssertionError(f"after the restart the registry serves {now}, before it served {before}")
    for key, want in before.items():
        if key == "compatibility":
            continue
        got = sr.get_schema(want["id"])
        if json.loads(got.schema_str) != want["schema"]:
            raise AssertionError(f"schema id {want['id']} ({key}): {got.schema_str}")
    print(f"after the restart: {len(now) - 1} subject versions with the same ids: "
          + ", ".join(f"{k}=id {v['id']}" for k, v in sorted(now.items()) if k != "compatibility")
          + f"; compatibility {now['compatibility']}")
    check_records(bootstrap, topic, sr)


def main():
    mode, bootstrap, topic, url = sys.argv[1:5]
    if mode == "produce":
        produce(bootstrap, topic, url)
    elif mode == "verify":
        verify(bootstrap, topic, url, json.loads(sys.stdin.read()))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
