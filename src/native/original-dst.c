/* Reads a redirected connection's original destination (SO_ORIGINAL_DST), which Node's net module cannot. */
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static napi_value make_result(napi_env env, const char *address, int port, const char *family) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "address", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_string_utf8(env, family, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

/* originalDst(fd) -> {address, port, family} | null (null when the connection was not redirected). */
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], null_value;
  napi_get_null(env, &null_value);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "originalDst(fd) needs a file descriptor");
    return NULL;
  }
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }
  char text[INET6_ADDRSTRLEN];
  struct sockaddr_in6 addr6;
  socklen_t len6 = sizeof(addr6);
  memset(&addr6, 0, sizeof(addr6));
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &addr6, &len6) == 0 && addr6.sin6_family == AF_INET6) {
    inet_ntop(AF_INET6, &addr6.sin6_addr, text, sizeof(text));
    return make_result(env, text, ntohs(addr6.sin6_port), "IPv6");
  }
  struct sockaddr_in addr4;
  socklen_t len4 = sizeof(addr4);
  memset(&addr4, 0, sizeof(addr4));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr4, &len4) == 0 && addr4.sin_family == AF_INET) {
    inet_ntop(AF_INET, &addr4.sin_addr, text, sizeof(text));
    return make_result(env, text, ntohs(addr4.sin_port), "IPv4");
  }
  return null_value;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
