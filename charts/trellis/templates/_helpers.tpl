{{/* Names and labels shared by the templates. Revision "" is Istio's default revision. */}}
{{- define "trellis.revSuffix" -}}
{{- if .Values.revision }}-{{ .Values.revision }}{{ end -}}
{{- end }}

{{- define "trellis.rev" -}}
{{- .Values.revision | default "default" -}}
{{- end }}

{{/* Deployment, Service and webhook target: istiod[-REV], as Istio's chart names them. */}}
{{- define "trellis.istiod" -}}
istiod{{ include "trellis.revSuffix" . }}
{{- end }}

{{/* The control plane's ServiceAccount and RBAC objects. */}}
{{- define "trellis.serviceAccount" -}}
trellis-control{{ include "trellis.revSuffix" . }}
{{- end }}

{{- define "trellis.labels" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
istio.io/rev: {{ include "trellis.rev" . }}
{{- end }}

{{- define "trellis.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* MeshConfig as JSON (valid YAML, and byte-stable for the checksum): the values' meshConfig, rootNamespace
     defaulting to the release namespace, and the tracing sampling as defaultConfig.tracing.sampling. */}}
{{- define "trellis.meshConfig" -}}
{{- $mesh := deepCopy .Values.meshConfig }}
{{- if not (hasKey $mesh "rootNamespace") }}
{{- $_ := set $mesh "rootNamespace" .Release.Namespace }}
{{- end }}
{{- $_ := set $mesh "defaultConfig" (dict "tracing" (dict "sampling" .Values.tracing.sampling)) }}
{{- toJson $mesh }}
{{- end }}

{{/* What the injector reads (trellis control --inject-values), in Istio's Helm values shape: the sidecar image, the
     control plane's namespace, the revision, native sidecars, and where injected proxies connect. */}}
{{- define "trellis.injectorValues" -}}
{{- $image := .Values.injection.proxyImage | default (printf "trellis/proxy:%s" (.Values.image.tag | default .Chart.AppVersion)) }}
{{- $global := dict "istioNamespace" .Release.Namespace "proxy" (dict "image" $image) }}
{{- $mesh := dict "defaultConfig" (dict "discoveryAddress" (printf "%s.%s.svc:15012" (include "trellis.istiod" .) .Release.Namespace)) }}
{{- dict "global" $global "revision" .Values.revision "sidecarInjectorWebhook" (dict "nativeSidecar" .Values.injection.nativeSidecars) "meshConfig" $mesh | toJson }}
{{- end }}
