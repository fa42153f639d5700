#!/usr/bin/env bash
# The SASL_SSL columns (kafka-sasl, spool-sasl): certificates, client configurations, the
# SCRAM user and its ACLs. Sourced by run.sh.
#
#   secure_pki DIR      CA, broker keystore and truststore (JKS, made with openssl and keytool as
#                       Kafka's docs show), and the clients' configurations:
#                         client.properties  Java (security.protocol, sasl.*, ssl.truststore.*)
#                         librdkafka.conf    kcat (KCAT_CONFIG) and confluent-kafka-python
#                         admin.properties   Kafka's tools as the super user admin (PLAIN)
#                       and exports the variables the harnesses read: COMPAT_CLIENT_CONFIG,
#                       KCAT_CONFIG, COMPAT_LIBRDKAFKA_CONFIG, COMPAT_SASL_USER/PASS, COMPAT_CA_PEM.
#   secure_setup BS     as admin, with Kafka's own tools: the SCRAM-SHA-512 user compat and its
#                       ACLs (topics, groups and transactional ids: ALL; the cluster: CREATE,
#                       DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE).
# Every client then logs in as User:compat over SASL_SSL with SCRAM-SHA-512.

COMPAT_SASL_USER_NAME=compat
COMPAT_SASL_USER_PASS=compat-secret

secure_pki() {
	local d=$1 pw=compat-pass
	mkdir -p "$d"
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=compat-ca" -keyout ca.key -out ca.pem
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
		openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out broker.pem
		openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -passout "pass:$pw" -out broker.p12
		keytool -importkeystore -srckeystore broker.p12 -srcstoretype PKCS12 -srcstorepass "$pw" \
			-destkeystore keystore.jks -deststoretype JKS -deststorepass "$pw" -destkeypass "$pw" -noprompt
		keytool -importcert -alias ca -file ca.pem -keystore truststore.jks -storetype JKS -storepass "$pw" -noprompt
	) > "$d/pki.log" 2>&1 || { cat "$d/pki.log" >&2; return 1; }
	cat > "$d/client.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$COMPAT_SASL_USER_NAME" password="$COMPAT_SASL_USER_PASS";
ssl.truststore.location=$d/truststore.jks
ssl.truststore.password=$pw
PROPS
	cat > "$d/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
ssl.truststore.location=$d/truststore.jks
ssl.truststore.password=$pw
PROPS
	cat > "$d/librdkafka.conf" <<PROPS
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$COMPAT_SASL_USER_NAME
sasl.password=$COMPAT_SASL_USER_PASS
ssl.ca.location=$d/ca.pem
PROPS
	export COMPAT_SECURITY_DIR=$d COMPAT_CLIENT_CONFIG=$d/client.properties KCAT_CONFIG=$d/librdkafka.conf \
		COMPAT_LIBRDKAFKA_CONFIG=$d/librdkafka.conf COMPAT_SASL_USER=$COMPAT_SASL_USER_NAME \
		COMPAT_SASL_PASS=$COMPAT_SASL_USER_PASS COMPAT_CA_PEM=$d/ca.pem
}

# secure_off: the plaintext columns see none of it.
secure_off() {
	unset COMPAT_SECURITY_DIR COMPAT_CLIENT_CONFIG KCAT_CONFIG COMPAT_LIBRDKAFKA_CONFIG COMPAT_SASL_USER \
		COMPAT_SASL_PASS COMPAT_CA_PEM
}

secure_setup() {
	local bs=$1 admin=$COMPAT_SECURITY_DIR/admin.properties bin=$COMPAT_DIR/bin
	"$bin/kafka-configs" --bootstrap-server "$bs" --command-config "$admin" --alter --entity-type users \
		--entity-name "$COMPAT_SASL_USER_NAME" --add-config "SCRAM-SHA-512=[iterations=4096,password=$COMPAT_SASL_USER_PASS]" &&
		"$bin/kafka-acls" --bootstrap-server "$bs" --command-config "$admin" --add --allow-principal "User:$COMPAT_SASL_USER_NAME" \
			--operation All --topic '*' --group '*' --transactional-id '*' &&
		"$bin/kafka-acls" --bootstrap-server "$bs" --command-config "$admin" --add --allow-principal "User:$COMPAT_SASL_USER_NAME" \
			--operation Create --operation Describe --operation DescribeConfigs --operation AlterConfigs \
			--operation IdempotentWrite --cluster
}
