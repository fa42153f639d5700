{{/* Resource names: the release name, or "spool" for a release called spool. */}}
{{- define "spool.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "spool.headless" -}}
{{- printf "%s-headless" (include "spool.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spool.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spool.labels" -}}
{{ include "spool.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* controller.quorum.voters: ordinal@pod.headless.namespace.svc.domain:9093 for every pod. */}}
{{- define "spool.voters" -}}
{{- $full := include "spool.fullname" . -}}
{{- $headless := include "spool.headless" . -}}
{{- $voters := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $voters = append $voters (printf "%d@%s-%d.%s.%s.svc.%s:9093" $i $full $i $headless $.Release.Namespace $.Values.clusterDomain) -}}
{{- end -}}
{{- join "," $voters -}}
{{- end -}}
