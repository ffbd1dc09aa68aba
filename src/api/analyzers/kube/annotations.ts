// Istio annotations on Namespaces, Services, Pods and Deployments, after istioctl analyze's annotation checks: a
// name in Istio's domains that Istio does not define (IST0108), one placed on a kind it does not apply to (IST0107),
// a deprecated one (IST0135), and a value the injector would refuse (IST0125). The table of annotations is Istio's own
// (istio.io/api annotation/annotations.yaml of the schema release), generated at build.
import table from "../../generated/istio-annotations.json" with { type: "json" };
import { annotationValueProblem } from "../../annotation-values.js";
import { annotationsOf, type KubeObject, labelsOf, ofKind, type ObjectReport } from "./objects.js";

interface AnnotationDef {
  name: string;
  deprecated: boolean;
  resources: string[];
}

const DEFS = new Map((table.annotations as AnnotationDef[]).map((a) => [a.name, a]));
const KINDS = ["Namespace", "Service", "Pod", "Deployment"];

/** In Istio's domains (*istio.io/...), or the Kubernetes ingress class annotation Istio documents. */
function isIstioAnnotation(name: string): boolean {
  return name === "kubernetes.io/ingress.class" || name.split("/")[0].endsWith("istio.io");
}

function check(o: KubeObject, report: ObjectReport): void {
  for (const [name, value] of Object.entries(annotationsOf(o))) {
    if (!isIstioAnnotation(name)) continue;
    const path = `metadata.annotations.${name}`;
    const def = DEFS.get(name);
    if (!def) {
      report(o, "TRL1034", path, `"${name}" is not an annotation Istio defines (Istio ${table.istio}), so nothing reads it; check its spelling`);
      continue;
    }
    // Keeping the deprecated inject annotation beside its replacement label is deliberate compatibility.
    if (def.deprecated && !(name === "sidecar.istio.io/inject" && labelsOf(o)[name] !== undefined)) {
      const instead = name === "sidecar.istio.io/inject" ? `; use the label ${name} instead` : "";
      report(o, "TRL1037", path, `"${name}" is deprecated${instead}`);
    }
    if (def.resources.includes("Any")) continue;
    if (!def.resources.includes(String(o.kind))) {
      report(o, "TRL1035", path, `"${name}" belongs on ${def.resources.join(", ")}, not on a ${String(o.kind)}, so nothing reads it here${o.kind === "Deployment" ? "; put it in spec.template.metadata.annotations" : ""}`);
      continue;
    }
    const problem = annotationValueProblem(name, value);
    if (problem) report(o, "TRL1036", path, `${name}: ${problem}`);
  }
}

export function analyzeAnnotations(objects: KubeObject[], report: ObjectReport): void {
  for (const kind of KINDS) for (const o of ofKind(objects, kind)) check(o, report);
}
