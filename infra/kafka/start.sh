#!/usr/bin/env bash
# Run a single-node Apache Kafka (KRaft: broker + controller in one JVM) in the foreground.
#
#   infra/kafka/start.sh [DATA_DIR] [PORT] [CONTROLLER_PORT]
#
# Arguments win over env; env wins over defaults:
#   DATA_DIR         LLMOPS_KAFKA_DATA_DIR         (default: <repo>/.data/kafka)
#   PORT             LLMOPS_KAFKA_PORT             (default: 9092)  PLAINTEXT listener
#   CONTROLLER_PORT  LLMOPS_KAFKA_CONTROLLER_PORT  (default: 9093)  KRaft controller listener
# Other env:
#   LLMOPS_KAFKA_HOST     bind + advertised host (default: 127.0.0.1)
#   LLMOPS_KAFKA_ADMIN_PASSWORD  set: the listener is SASL_PLAINTEXT with SCRAM-SHA-512 and the
#                         StandardAuthorizer enforces ACLs; the super user LLMOPS_KAFKA_ADMIN_USER
#                         (default: admin) gets this password at format time, and services need
#                         credentials and ACLs (llmops kafka acls --apply). See docs/kafka-security.md.
#   KAFKA_CLUSTER_ID      cluster id used when formatting a fresh data dir (default: random)
#   KAFKA_HEAP_OPTS       default: -Xms256m -Xmx512m
#   KAFKA_JVM_PERFORMANCE_OPTS  default: G1 flags as in Kafka's kafka-run-class.sh
#   KAFKA_OPTS            appended to the java command line
#   JAVA                  java executable (default: $JAVA_HOME/bin/java or java)
#   LLMOPS_CACHE_DIR, KAFKA_VERSION  as for fetch.sh (run first if the jars are missing)
#
# server.properties is (re)written into DATA_DIR on every start, so ports may change between
# runs; storage is formatted only when DATA_DIR/logs/meta.properties is absent, so topics and
# offsets survive restarts. The script ends with `exec java`, so the PID you started is the
# broker JVM: SIGTERM makes it shut down cleanly. Logs go to stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

data_dir="${1:-${LLMOPS_KAFKA_DATA_DIR:-$repo/.data/kafka}}"
port="${2:-${LLMOPS_KAFKA_PORT:-9092}}"
controller_port="${3:-${LLMOPS_KAFKA_CONTROLLER_PORT:-9093}}"
host="${LLMOPS_KAFKA_HOST:-127.0.0.1}"
version="${KAFKA_VERSION:-3.9.1}"
libs="${LLMOPS_CACHE_DIR:-$repo/.cache}/kafka/$version/libs"

for p in "$port" "$controller_port"; do
  [[ "$p" =~ ^[0-9]+$ && "$p" -gt 0 && "$p" -lt 65536 ]] || { echo "start.sh: bad port '$p'" >&2; exit 2; }
done
[[ "$port" != "$controller_port" ]] || { echo "start.sh: PORT and CONTROLLER_PORT must differ" >&2; exit 2; }

if [[ -n "${JAVA:-}" ]]; then java_bin="$JAVA"
elif [[ -n "${JAVA_HOME:-}" ]]; then java_bin="$JAVA_HOME/bin/java"
else java_bin="java"; fi
command -v "$java_bin" >/dev/null 2>&1 || { echo "start.sh: '$java_bin' not found; a JDK >= 17 is required" >&2; exit 2; }

if [[ ! -f "$libs/.complete" ]]; then
  "$here/fetch.sh" >/dev/null
fi

mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"
log_dir="$data_dir/logs"
props="$data_dir/server.properties"

listener=PLAINTEXT
security_props=""
format_args=()
if [[ -n "${LLMOPS_KAFKA_ADMIN_PASSWORD:-}" ]]; then
  admin="${LLMOPS_KAFKA_ADMIN_USER:-admin}"
  secret="$LLMOPS_KAFKA_ADMIN_PASSWORD"
  [[ "$admin$secret" != *[\"\\\ \;\]\[,=]* ]] || { echo "start.sh: admin user/password must not contain quotes, backslashes, spaces, ; , = [ ]" >&2; exit 2; }
  listener=SASL_PLAINTEXT
  # Clients authenticate with SCRAM-SHA-512 (credentials live in the cluster metadata). The controller
  # listener cannot use SCRAM (the controller reads those credentials from the metadata it serves), so
  # the broker reaches its controller with SASL PLAIN and a static admin entry, on loopback.
  security_props="sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$admin\" password=\"$secret\";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$admin\" password=\"$secret\" user_$admin=\"$secret\";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin"
  format_args=(--add-scram "SCRAM-SHA-512=[name=$admin,password=$secret]")
  umask 077  # server.properties holds the admin password (a file kept from a PLAINTEXT run keeps its mode)
  touch "$props" && chmod 600 "$props"
fi

cat >"$props" <<PROPS
# Written by infra/kafka/start.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$controller_port
listeners=$listener://$host:$port,CONTROLLER://$host:$controller_port
advertised.listeners=$listener://$host:$port
listener.security.protocol.map=$listener:$listener,CONTROLLER:$listener
controller.listener.names=CONTROLLER
inter.broker.listener.name=$listener
log.dirs=$log_dir
$security_props

# Single node: every replication factor is 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Topics come from infra/kafka/topics.yaml (llmops_kit.kafka.topics.ensure_topics), not from
# whoever produces first.
auto.create.topics.enable=false
num.partitions=3
delete.topic.enable=true

# Tests and dev loops: no waiting for more group members.
group.initial.rebalance.delay.ms=0

# Sized for a laptop / 2-core CI runner.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.retention.check.interval.ms=60000
PROPS

if [[ ! -f "$log_dir/meta.properties" ]]; then
  cluster_id="${KAFKA_CLUSTER_ID:-}"
  if [[ -z "$cluster_id" ]]; then
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    # (Same shape as `kafka-storage.sh random-uuid`, without paying for a second JVM start.)
    while :; do
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
      [[ "$cluster_id" != -* ]] && break
    done
  fi
  echo "start.sh: formatting $log_dir (cluster id $cluster_id)"
  "$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$here/log4j.properties" \
    -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$props" "${format_args[@]}"
fi

heap_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
perf_opts="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"

echo "start.sh: Kafka $version on $host:$port (controller $controller_port), data in $data_dir"
# shellcheck disable=SC2086
exec "$java_bin" $heap_opts $perf_opts \
  -Dlog4j.configuration="file:$here/log4j.properties" \
  -Dkafka.logs.dir="$data_dir" \
  ${KAFKA_OPTS:-} \
  -cp "$libs/*" kafka.Kafka "$props"
