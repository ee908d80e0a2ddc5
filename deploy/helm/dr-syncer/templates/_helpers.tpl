{{/*
Labels Helm adds to every object it owns, besides the ones deploy/ sets. The
render comparison (deploy/helm) ignores exactly these.
*/}}
{{- define "dr-syncer.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of a component; the same as deploy/manager's, so the
Deployments' immutable selectors match a kustomize install's. */}}
{{- define "dr-syncer.selector" -}}
app.kubernetes.io/name: dr-syncer
app.kubernetes.io/component: {{ . }}
{{- end }}

{{/* The namespace whose Secrets dr-syncer reads: the release's unless set. */}}
{{- define "dr-syncer.systemNamespace" -}}
{{- default .Release.Namespace .Values.systemNamespace -}}
{{- end }}

{{/* Environment every dr-syncer container shares, after POD_NAMESPACE; only
what a value changes, so the defaults add nothing deploy/ lacks. */}}
{{- define "dr-syncer.env" -}}
{{- with .Values.logLevel }}
- {name: DRSYNCER_LOG_LEVEL, value: {{ . | quote }}}
{{- end }}
{{- with .Values.systemNamespace }}
- {name: DRSYNCER_SYSTEM_NAMESPACE, value: {{ . | quote }}}
{{- end }}
{{- end }}

{{/* The Secrets every pod mounts. Optional: pods start before they exist;
the ConfigMap dr-syncer-temporal names the files in them that are used. */}}
{{- define "dr-syncer.secretMounts" -}}
- {name: temporal-tls, mountPath: /etc/dr-syncer/temporal-tls, readOnly: true}
- {name: payload-codec, mountPath: /etc/dr-syncer/payload-codec, readOnly: true}
{{- end }}
{{- define "dr-syncer.secretVolumes" -}}
- name: temporal-tls
  secret: {secretName: {{ .Values.temporal.tls.secretName }}, optional: true}
- name: payload-codec
  secret: {secretName: {{ .Values.payloadCodec.secretName }}, optional: true}
{{- end }}

{{- define "dr-syncer.image" -}}
{{ printf "%s:%s" .repository .tag }}
{{- end }}

{{/* The metrics Service of a component: {root, component, port}. */}}
{{- define "dr-syncer.metricsService" -}}
apiVersion: v1
kind: Service
metadata:
  name: dr-syncer-{{ .component }}-metrics
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "dr-syncer.selector" .component | nindent 4 }}
    {{- include "dr-syncer.helmLabels" .root | nindent 4 }}
spec:
  selector:
    {{- include "dr-syncer.selector" .component | nindent 4 }}
  ports:
    - {name: metrics, port: {{ .port }}, targetPort: metrics}
{{- end }}
