{{/* <registry>/<name>:<tag>, or <name>:<tag> without a registry. */}}
{{- define "kaito.image" -}}
{{- $registry := .root.Values.image.registry -}}
{{- if $registry -}}{{ printf "%s/%s:%s" $registry .name .root.Values.image.tag }}{{- else -}}{{ printf "%s:%s" .name .root.Values.image.tag }}{{- end -}}
{{- end -}}

{{- define "kaito.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "kaito.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: ["ALL"]}
volumeMounts:
  - {name: tmp, mountPath: /tmp}
{{- end -}}
