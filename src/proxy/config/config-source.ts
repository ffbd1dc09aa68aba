// ConfigSources other than the bootstrap's lds_config and cds_config: those resources come over ADS only, so one
// that names a file (path, path_config_source) is refused by name rather than quietly fetched over ADS instead.
import type { ConfigSource__Output } from "../../xds/generated/envoy/config/core/v3/ConfigSource.js";

export function refuseFileSource(source: ConfigSource__Output | null | undefined, where: string, what: string): void {
  const spec = source?.config_source_specifier;
  if (spec === "path" || spec === "path_config_source") {
    throw new Error(`${where}.${spec}: ${what} from a file is not supported (only listeners and clusters are: dynamic_resources lds_config / cds_config); use ads: {}`);
  }
}
