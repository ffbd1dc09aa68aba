// ConfigSources other than the bootstrap's lds_config and cds_config: those resources come over ADS (or the stream
// that sent their parent), so one that names a file or another server is refused by name rather than quietly
// fetched from there instead.
import type { ConfigSource__Output } from "../../xds/generated/envoy/config/core/v3/ConfigSource.js";

export function refuseFileSource(source: ConfigSource__Output | null | undefined, where: string, what: string): void {
  const spec = source?.config_source_specifier;
  if (spec === "path" || spec === "path_config_source") {
    throw new Error(`${where}.${spec}: ${what} from a file is not supported (only listeners and clusters are: dynamic_resources lds_config / cds_config); use ads: {}`);
  }
  // Its own stream is for lds_config / cds_config (xds-sources.ts); what they name comes from ADS, or without ADS
  // from the server that sent them: another server named here would be ignored, so it is refused.
  if (spec === "api_config_source") {
    throw new Error(`${where}.api_config_source: ${what} over a stream of its own is not supported here (only dynamic_resources lds_config / cds_config); use ads: {} or self: {} (the server that sent this resource)`);
  }
}
