{{/*
Shared helpers. Every per-service helper takes the context dict the templates build while ranging
over `.Values.services`:  (dict "root" $ "name" <service key> "svc" <service values>)
Service values are read with `dig` and a default, so a new block in `.Values.services` only needs
the keys it changes (`dig` also keeps an explicit `false`, which sprig's merge would not).
*/}}

{{/* Chart label value: name-version. */}}
{{- define "llmops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name of a service: <release>-<service>, DNS-1123 safe (63 chars max). */}}
{{- define "llmops.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels the selector matches on: stable across upgrades. */}}
{{- define "llmops.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Labels on every object of a service. */}}
{{- define "llmops.labels" -}}
helm.sh/chart: {{ include "llmops.chart" .root }}
{{ include "llmops.selectorLabels" . }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/part-of: llmops
app.kubernetes.io/version: {{ include "llmops.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Image tag: service image.tag, else global.image.tag, else the chart's appVersion. */}}
{{- define "llmops.imageTag" -}}
{{- $tag := dig "image" "tag" "" .svc -}}
{{- $tag = $tag | default .root.Values.global.image.tag | default .root.Chart.AppVersion -}}
{{- $tag | toString -}}
{{- end -}}

{{/* Full image reference: [registry/]repository:tag. */}}
{{- define "llmops.image" -}}
{{- $repo := required (printf "services.%s.image.repository is required" .name) (dig "image" "repository" "" .svc) -}}
{{- $registry := .root.Values.global.image.registry | default "" | trimSuffix "/" -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry $repo (include "llmops.imageTag" .) -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "llmops.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* Prefix of the service's own env vars (<PREFIX>_HOST, <PREFIX>_PORT): envPrefix or NAME. */}}
{{- define "llmops.envPrefix" -}}
{{- .svc.envPrefix | default (.name | upper | replace "-" "_") -}}
{{- end -}}

{{- define "llmops.serviceAccountName" -}}
{{- if dig "serviceAccount" "create" true .svc -}}
{{- include "llmops.fullname" . -}}
{{- else -}}
{{- dig "serviceAccount" "name" "default" .svc -}}
{{- end -}}
{{- end -}}

{{/* Whether the API keys Secret is mounted into this service. */}}
{{- define "llmops.mountApiKeys" -}}
{{- if and (dig "apiKeys" true .svc) (include "llmops.apiKeysSecretName" .root) -}}true{{- end -}}
{{- end -}}

{{/* The API keys Secret: global.apiKeys.existingSecret, else <release>-api-keys rendered from inline, else "". */}}
{{- define "llmops.apiKeysSecretName" -}}
{{- if .Values.global.apiKeys.existingSecret -}}
{{- .Values.global.apiKeys.existingSecret -}}
{{- else if .Values.global.apiKeys.inline -}}
{{- include "llmops.fullname" (dict "root" . "name" "api-keys") -}}
{{- end -}}
{{- end -}}

{{/* A platform key's Secret (.which: auditSigningKey or piiHashKey): its existingSecret, else <release>-<which>. */}}
{{- define "llmops.platformKeySecret" -}}
{{- (index .root.Values.global .which).existingSecret | default (include "llmops.fullname" (dict "root" .root "name" (kebabcase .which))) -}}
{{- end -}}

{{/* The environment variable each platform key is read from. */}}
{{- define "llmops.platformKeyEnv" -}}
{{- index (dict "auditSigningKey" "GOVERNANCE_AUDIT_SIGNING_KEY" "piiHashKey" "LLMOPS_PII_HASH_KEY") . -}}
{{- end -}}

{{/*
The development keys published in README.md (llmops_dev_only_insecure_key_for_docker_compose and the services'
llmops_dev_only_insecure_service_key_for_docker_compose, the entries of infra/dev/api-keys.yaml) protect nothing:
anyone can read them. The chart refuses a keys file holding either digest
unless global.apiKeys.allowInsecureDevKey is true (a throwaway cluster). Checked on global.apiKeys.inline and,
on `helm install/upgrade` against a cluster, in the existing Secret (`lookup` finds nothing under `helm template`).
*/}}
{{- define "llmops.devKeyDigests" -}}2cdf314fcb542923d072b583172e2d14ed498f2a774588dd5d8c0dc8ba179608 86201b0ecb3484556858e052539b191efa1f7251b40cb0dd114aa94cd001d66e{{- end -}}

{{- define "llmops.refuseDevKey" -}}
{{- $keys := .Values.global.apiKeys -}}
{{- $digests := splitList " " (include "llmops.devKeyDigests" .) -}}
{{- $advice := "it is the development key published in README.md (infra/dev/api-keys.yaml), which protects nothing: create keys with `llmops keys create`, or set global.apiKeys.allowInsecureDevKey=true on a throwaway cluster" -}}
{{- if not $keys.allowInsecureDevKey -}}
{{- range $keys.inline -}}
{{- if has (lower (toString .sha256)) $digests -}}
{{- fail (printf "global.apiKeys.inline: refusing key %q: %s" (toString .id) $advice) -}}
{{- end -}}
{{- end -}}
{{- with $keys.existingSecret -}}
{{- $secret := lookup "v1" "Secret" $.Release.Namespace . | default dict -}}
{{- $file := dig "data" $keys.key "" $secret | b64dec -}}
{{- range $digests -}}
{{- if contains . $file -}}
{{- fail (printf "global.apiKeys.existingSecret %q: refusing its keys file: %s" $keys.existingSecret $advice) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Kafka security (docs/kafka-security.md). A service uses Kafka unless it sets kafka.enabled: false. With a
SASL protocol each such service has its own principal: the Secret named by kafka.sasl.existingSecret
(the render fails without it). With SSL/SASL_SSL and global.kafka.tls.caSecret, the CA is mounted at
/etc/llmops/kafka-tls.
*/}}
{{- define "llmops.kafkaProtocol" -}}
{{- .root.Values.global.kafka.securityProtocol | default "PLAINTEXT" -}}
{{- end -}}

{{- define "llmops.kafkaSaslSecret" -}}
{{- $protocol := include "llmops.kafkaProtocol" . -}}
{{- if and (hasPrefix "SASL_" $protocol) (dig "kafka" "enabled" true .svc) -}}
{{- $secret := dig "kafka" "sasl" "existingSecret" "" .svc -}}
{{- if not $secret -}}
{{- fail (printf "services.%s.kafka.sasl.existingSecret is required: global.kafka.securityProtocol is %s and each service connects as its own principal" .name $protocol) -}}
{{- end -}}
{{- $secret -}}
{{- end -}}
{{- end -}}

{{- define "llmops.kafkaCaSecret" -}}
{{- $tls := .root.Values.global.kafka.tls | default dict -}}
{{- if and (hasSuffix "SSL" (include "llmops.kafkaProtocol" .)) (dig "kafka" "enabled" true .svc) $tls.caSecret -}}
{{- $tls.caSecret -}}
{{- end -}}
{{- end -}}

{{- define "llmops.kafkaTlsMountPath" -}}/etc/llmops/kafka-tls{{- end -}}

{{- define "llmops.kafkaSecurityEnv" -}}
{{- $protocol := include "llmops.kafkaProtocol" . -}}
{{- $k := .root.Values.global.kafka -}}
{{- if and (ne $protocol "PLAINTEXT") (dig "kafka" "enabled" true .svc) }}
KAFKA_SECURITY_PROTOCOL: {{ $protocol | quote }}
{{- if hasPrefix "SASL_" $protocol }}
KAFKA_SASL_MECHANISM: {{ $k.saslMechanism | default "SCRAM-SHA-512" | quote }}
{{- end }}
{{- if hasSuffix "SSL" $protocol }}
KAFKA_SSL_CHECK_HOSTNAME: {{ dig "tls" "checkHostname" true $k | toString | quote }}
{{- if include "llmops.kafkaCaSecret" . }}
KAFKA_SSL_CAFILE: {{ printf "%s/%s" (include "llmops.kafkaTlsMountPath" .) (dig "tls" "caKey" "ca.crt" $k) | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Plain (non-secret) environment of a service: the ConfigMap's data. */}}
{{- define "llmops.configData" -}}
{{- $g := .root.Values.global -}}
{{- $prefix := include "llmops.envPrefix" . -}}
{{ $prefix }}_HOST: "0.0.0.0"
{{ $prefix }}_PORT: {{ .svc.port | toString | quote }}
KAFKA_BOOTSTRAP_SERVERS: {{ required "global.kafka.bootstrapServers is required" $g.kafka.bootstrapServers | quote }}
LOG_LEVEL: {{ $g.logLevel | default "INFO" | quote }}
{{- include "llmops.kafkaSecurityEnv" . }}
{{- if dig "clickhouse" false .svc }}
CLICKHOUSE_URL: {{ required "global.clickhouse.url is required" $g.clickhouse.url | quote }}
{{- end }}
{{- if include "llmops.mountApiKeys" . }}
LLMOPS_API_KEYS_FILE: {{ printf "%s/%s" ($g.apiKeys.mountPath | trimSuffix "/") $g.apiKeys.key | quote }}
{{- end }}
{{- if .svc.platformClients }}
{{- $services := .root.Values.services }}
LLMOPS_WAREHOUSE_URL: {{ printf "http://%s:%v" (include "llmops.fullname" (dict "root" .root "name" "warehouse")) $services.warehouse.port | quote }}
LLMOPS_GATEWAY_URL: {{ printf "http://%s:%v" (include "llmops.fullname" (dict "root" .root "name" "inference")) $services.inference.port | quote }}
{{- if .svc.evaluationClient }}
LLMOPS_EVALUATION_URL: {{ printf "http://%s:%v" (include "llmops.fullname" (dict "root" .root "name" "evaluation")) $services.evaluation.port | quote }}
{{- end }}
{{- end }}
{{- $env := .svc.env | default dict }}
{{- if dig "spool" "persistence" "enabled" false .svc }}
{{- $env = merge (dict (printf "%s_SPOOL_DIR" $prefix) (include "llmops.spoolMountPath" .)) (deepCopy $env) }}
{{- end }}
{{- if and (include "llmops.routesConfigMapName" .) (not (hasKey $env (printf "%s_ROUTES_FILE" $prefix))) }}
{{ $prefix }}_ROUTES_FILE: {{ printf "%s/%s" (include "llmops.routesMountPath" .) (include "llmops.routesKey" .) | quote }}
{{- end }}
{{- range $k, $v := $env }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/*
Routes file (the inference gateway's upstreams and per-model routes, docs/inference.md). A service gets
one when it sets `routesConfigMap` (an existing ConfigMap, key routes.yaml) or `routes` (rendered by
configmap.yaml into <release>-<service>-routes); it is mounted read-only at /etc/llmops/routes and
named by <PREFIX>_ROUTES_FILE. The ConfigMap's name, or "" when the service has no routes file:
*/}}
{{- define "llmops.routesConfigMapName" -}}
{{- if .svc.routesConfigMap -}}
{{- .svc.routesConfigMap -}}
{{- else if .svc.routes -}}
{{- include "llmops.fullname" (dict "root" .root "name" (printf "%s-routes" .name)) -}}
{{- end -}}
{{- end -}}

{{- define "llmops.routesMountPath" -}}/etc/llmops/routes{{- end -}}

{{- define "llmops.routesKey" -}}routes.yaml{{- end -}}

{{/* Where a persistent spool is mounted (<PREFIX>_SPOOL_DIR points there, over the service's env). */}}
{{- define "llmops.spoolMountPath" -}}/var/lib/llmops/spool{{- end -}}

{{/*
The routes file rendered from `routes`: each upstream's base_url goes through `tpl` (so a default can
name a Service of this release through "llmops.fullname"), and every target must name a declared
upstream (a render error here rather than a gateway that refuses to start).
*/}}
{{- define "llmops.routesFile" -}}
{{- $routes := .svc.routes -}}
{{- $names := list -}}
{{- $upstreams := list -}}
{{- range $u := ($routes.upstreams | default list) -}}
{{- $u = deepCopy $u -}}
{{- $_ := set $u "base_url" (tpl (toString $u.base_url) $.root) -}}
{{- $names = append $names $u.name -}}
{{- $upstreams = append $upstreams $u -}}
{{- end -}}
{{- $models := $routes.models | default dict -}}
{{- range $model, $targets := $models -}}
{{- range $targets -}}
{{- if not (has .upstream $names) -}}
{{- fail (printf "services.%s.routes.models.%s: upstream %q is not in routes.upstreams (%s); routes.upstreams is a list and replaces the default one whole, while routes.models merges with the default models (set a model to null to drop it)" $.name $model .upstream (join ", " $names)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
# Rendered by the llmops chart from services.{{ .name }}.routes (docs/inference.md).
upstreams:
{{- toYaml $upstreams | nindent 2 }}
models:
{{- toYaml $models | nindent 2 }}
{{- end -}}

{{/* Pod replicas floor used by the PDB sanity check: HPA minReplicas or replicas. */}}
{{- define "llmops.minPods" -}}
{{- if dig "autoscaling" "enabled" false .svc -}}
{{- dig "autoscaling" "minReplicas" 1 .svc | int -}}
{{- else -}}
{{- dig "replicas" 1 .svc | int -}}
{{- end -}}
{{- end -}}

{{/* An HTTP probe from a probes.<kind> block with defaults. */}}
{{- define "llmops.httpProbe" -}}
{{- $p := .probe | default dict -}}
httpGet:
  path: {{ dig "path" .defaultPath $p }}
  port: {{ dig "port" "http" $p }}
initialDelaySeconds: {{ dig "initialDelaySeconds" .defaultDelay $p }}
periodSeconds: {{ dig "periodSeconds" 10 $p }}
timeoutSeconds: {{ dig "timeoutSeconds" 3 $p }}
failureThreshold: {{ dig "failureThreshold" 3 $p }}
{{- end -}}
