// gRPC server limits for the ports that take requests before authentication (plaintext xDS, and CA + xDS over TLS).
// A DiscoveryRequest or a CSR is a few kilobytes; with the library default of 64 MB (and gzip inflated up to it) eight
// tiny compressed streams cost the control plane hundreds of megabytes before any token was checked. grpc-js bounds
// inflation by the receive limit too, so a small limit bounds both; streams per connection are capped as well.
export const PRE_AUTH_RECEIVE_LIMIT = 1024 * 1024;

export const PRE_AUTH_SERVER_OPTIONS = {
  "grpc.max_receive_message_length": PRE_AUTH_RECEIVE_LIMIT,
  // Responses (whole snapshots) may be large: only what we receive is bounded.
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  // A proxy uses one ADS stream and a CSR call at a time.
  "grpc.max_concurrent_streams": 16,
};
