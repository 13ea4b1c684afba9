{{/* The chart's name, or nameOverride. */}}
{{- define "kubescribe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name alone when it already holds the chart's name.
Cut to 40 characters: the longest suffix added to it ("-model-fill") must still fit a
63-character name. */}}
{{- define "kubescribe.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "kubescribe.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "kubescribe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kubescribe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubescribe
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of the operator's pods. */}}
{{- define "kubescribe.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kubescribe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kubescribe.operatorServiceAccountName" -}}
{{- if .Values.serviceAccount.operator.create -}}
{{- default (printf "%s-operator" (include "kubescribe.fullname" .)) .Values.serviceAccount.operator.name -}}
{{- else -}}
{{- required "serviceAccount.operator.name is required when serviceAccount.operator.create is false" .Values.serviceAccount.operator.name -}}
{{- end -}}
{{- end -}}

{{- define "kubescribe.workerServiceAccountName" -}}
{{- if .Values.serviceAccount.worker.create -}}
{{- default (printf "%s-worker" (include "kubescribe.fullname" .)) .Values.serviceAccount.worker.name -}}
{{- else -}}
{{- required "serviceAccount.worker.name is required when serviceAccount.worker.create is false" .Values.serviceAccount.worker.name -}}
{{- end -}}
{{- end -}}

{{- define "kubescribe.dataClaim" -}}
{{- default (printf "%s-data" (include "kubescribe.fullname" .)) .Values.storage.data.existingClaim -}}
{{- end -}}

{{- define "kubescribe.modelClaim" -}}
{{- default (printf "%s-models" (include "kubescribe.fullname" .)) .Values.storage.models.existingClaim -}}
{{- end -}}

{{/* A PriorityClass name for "api" or "scan": the given name, a created one, or "". */}}
{{- define "kubescribe.priorityClass" -}}
{{- $class := index .root.Values.priorityClasses .which -}}
{{- if $class.name -}}
{{- $class.name -}}
{{- else if .root.Values.priorityClasses.create -}}
{{- printf "%s-%s" (include "kubescribe.fullname" .root) .which -}}
{{- end -}}
{{- end -}}

{{/* "repository:tag" or "repository:tag@digest" of an image block. */}}
{{- define "kubescribe.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The pod securityContext every kubescribe pod shares: one uid and group, so the
operator, the workers and the model-fill Job can each write what the others wrote. */}}
{{- define "kubescribe.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.fsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
# A large shared volume is chowned only when its root does not fit already.
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container securityContext: Pod Security Standards "restricted" and a read-only root. */}}
{{- define "kubescribe.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.fsGroup }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment for a read-only root filesystem: caches and HOME go to the /tmp emptyDir. */}}
{{- define "kubescribe.scratchEnv" -}}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/cache
- name: PYTHONUNBUFFERED
  value: "1"
{{- end -}}
