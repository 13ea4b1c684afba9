{{/* Name of the Secret with the API's bearer tokens: an existing one, or the chart's. */}}
{{- define "kubescribe.apiAuthSecret" -}}
{{- default (printf "%s-api-auth" (include "kubescribe.fullname" .)) .Values.api.auth.existingSecret -}}
{{- end -}}

{{/* Name of the API's Service (and Ingress and ServiceMonitor). */}}
{{- define "kubescribe.apiServiceName" -}}
{{- printf "%s-api" (include "kubescribe.fullname" .) -}}
{{- end -}}

{{/* Where the tokens file is mounted in the operator (KUBESCRIBE_API_TOKENS_FILE). */}}
{{- define "kubescribe.apiAuthMount" -}}
/etc/kubescribe/api-auth
{{- end -}}
