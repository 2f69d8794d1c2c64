{{/* Names and labels shared by every object of the release. */}}
{{- define "booking.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "booking.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* booking.selector (dict "root" $ "component" "api") */}}
{{- define "booking.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "booking.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "booking.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "booking.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{- define "booking.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "booking.fullname" .)) }}
{{- end -}}

{{/*
The settings ConfigMap and the chart-made Secret exist twice: as release objects (read by the
Deployments) and as hook objects named "-hook" (the hook Jobs run before the release's own
objects exist on a first install).
*/}}
{{- define "booking.hookSuffix" -}}
{{- if . }}-hook{{ end -}}
{{- end -}}

{{/* The app's container parts: settings from the ConfigMap, secrets as files, writable dirs. */}}
{{- define "booking.appEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "booking.fullname" .root }}-settings{{ include "booking.hookSuffix" .hook }}
env:
  - name: BOOKING_SECRETS_DIR
    value: {{ .root.Values.secretsMountPath | quote }}
  # The worker's /healthz and /readyz, on the port its probes use.
  - name: BOOKING_WORKER_HEALTH_ADDRESS
    value: {{ printf "0.0.0.0:%v" .root.Values.worker.healthPort | quote }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
volumeMounts:
  - name: secrets
    mountPath: {{ .root.Values.secretsMountPath }}
    readOnly: true
  - name: var
    mountPath: /app/var
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{- define "booking.appVolumes" -}}
- name: secrets
  secret:
    secretName: {{ include "booking.secretName" .root }}{{ if not .root.Values.secrets.existingSecret }}{{ include "booking.hookSuffix" .hook }}{{ end }}
    defaultMode: 0440
- name: var
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "booking.podSpecCommon" -}}
serviceAccountName: {{ include "booking.serviceAccountName" . }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
