/*
 * cairn's extended-attribute calls: Node has none of its own. A Node-API module, so one
 * build serves every Node version from 20 on, and loadable in worker threads.
 *
 *   list(path)              -> Buffer: the raw name list (names each ending in NUL), or
 *                              undefined where there are none (or the file system keeps
 *                              none); never follows a symlink.
 *   get(path, name)         -> Buffer: the value (not following a symlink).
 *   set(path, name, value)  -> undefined (not following a symlink).
 *   fset(fd, name, value)   -> undefined.
 *   remove(path, name)      -> undefined (not following a symlink).
 *
 * Paths and names are Buffers (their exact bytes); a failure throws an Error whose
 * `code` is the errno name ("EACCES", "ENOTSUP", ...) and whose `errno` is the number.
 * Linux and macOS; elsewhere every call fails with ENOTSUP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

#if defined(__linux__)
#include <sys/xattr.h>
#define LIST(p, b, n) llistxattr((p), (b), (n))
#define GET(p, k, b, n) lgetxattr((p), (k), (b), (n))
#define SET(p, k, v, n) lsetxattr((p), (k), (v), (n), 0)
#define FSET(fd, k, v, n) fsetxattr((fd), (k), (v), (n), 0)
#define REMOVE(p, k) lremovexattr((p), (k))
#elif defined(__APPLE__)
#include <sys/xattr.h>
#define LIST(p, b, n) listxattr((p), (b), (n), XATTR_NOFOLLOW)
#define GET(p, k, b, n) getxattr((p), (k), (b), (n), 0, XATTR_NOFOLLOW)
#define SET(p, k, v, n) setxattr((p), (k), (v), (n), 0, XATTR_NOFOLLOW)
#define FSET(fd, k, v, n) fsetxattr((fd), (k), (v), (n), 0, 0)
#define REMOVE(p, k) removexattr((p), (k), XATTR_NOFOLLOW)
#else
#define LIST(p, b, n) (errno = ENOTSUP, -1)
#define GET(p, k, b, n) (errno = ENOTSUP, -1)
#define SET(p, k, v, n) (errno = ENOTSUP, -1)
#define FSET(fd, k, v, n) (errno = ENOTSUP, -1)
#define REMOVE(p, k) (errno = ENOTSUP, -1)
#endif

#ifndef ENOATTR
#define ENOATTR ENODATA
#endif

static const char *errno_name(int e) {
  switch (e) {
  case EACCES: return "EACCES";
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ENOTDIR: return "ENOTDIR";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ELOOP: return "ELOOP";
  case ENOTSUP: return "ENOTSUP";
#if EOPNOTSUPP != ENOTSUP
  case EOPNOTSUPP: return "ENOTSUP";
#endif
  case ERANGE: return "ERANGE";
  case E2BIG: return "E2BIG";
  case ENOSPC: return "ENOSPC";
  case EDQUOT: return "EDQUOT";
  case ENOATTR: return "ENODATA";
  case EROFS: return "EROFS";
  case EINVAL: return "EINVAL";
  case EBADF: return "EBADF";
  case EIO: return "EIO";
  case ENOMEM: return "ENOMEM";
  case ESTALE: return "ESTALE";
  case EINTR: return "EINTR";
  case EAGAIN: return "EAGAIN";
  case EBUSY: return "EBUSY";
  case EFAULT: return "EFAULT";
  case EXDEV: return "EXDEV";
  case EMFILE: return "EMFILE";
  case ENFILE: return "ENFILE";
  case ENOTCONN: return "ENOTCONN";
  case ETIMEDOUT: return "ETIMEDOUT";
  default: return NULL;
  }
}

/* Throws an Error for errno `e` from `call`; returns NULL for the caller to return. The
 * message holds no strerror text (not thread-safe everywhere): JavaScript words the
 * cause from the code (core/errno.ts). */
static napi_value throw_errno(napi_env env, int e, const char *call) {
  char message[96];
  char unknown[24];
  const char *name = errno_name(e);
  if (name == NULL) {
    snprintf(unknown, sizeof unknown, "ERRNO%d", e);
    name = unknown;
  }
  snprintf(message, sizeof message, "%s failed (%s)", call, name);
  napi_value msg, code, err, num;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &err);
  napi_create_int32(env, -e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &msg);
  napi_set_named_property(env, err, "syscall", msg);
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *what) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
  return NULL;
}

/* Copies Buffer argument `v` into a new NUL-terminated string (NULL if not a Buffer or
 * if it holds a NUL: the caller throws). */
static char *c_string(napi_env env, napi_value v) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return NULL;
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, v, &data, &length) != napi_ok) return NULL;
  if (length > 0 && memchr(data, 0, length) != NULL) return NULL;
  char *s = malloc(length + 1);
  if (s == NULL) return NULL;
  if (length > 0) memcpy(s, data, length);
  s[length] = 0;
  return s;
}

static int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return argc == want;
}

/* Calls `size_of(NULL, 0)` for the size, then fills a buffer; retries while the
 * attribute grows between the two calls (ERANGE). */
typedef ssize_t (*reader)(const char *path, const char *name, void *buf, size_t size);

static ssize_t list_reader(const char *path, const char *name, void *buf, size_t size) {
  (void)name;
  return LIST(path, buf, size);
}

static ssize_t get_reader(const char *path, const char *name, void *buf, size_t size) {
  return GET(path, name, buf, size);
}

static napi_value read_into_buffer(napi_env env, reader read, const char *path,
                                   const char *name, const char *call) {
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = read(path, name, NULL, 0);
    if (size < 0) {
      if (read == list_reader && (errno == ENOTSUP || errno == EOPNOTSUPP)) size = 0;
      else return throw_errno(env, errno, call);
    }
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) return throw_errno(env, ENOMEM, call);
    ssize_t got = size > 0 ? read(path, name, buf, (size_t)size) : 0;
    if (got < 0) {
      int e = errno;
      free(buf);
      if (e == ERANGE) continue;
      if (read == list_reader && (e == ENOTSUP || e == EOPNOTSUPP)) got = 0;
      else return throw_errno(env, e, call);
      buf = NULL;
    }
    napi_value out;
    if (got == 0 && read == list_reader) {
      /* No attributes, the common case: undefined, nothing allocated. */
      free(buf);
      napi_get_undefined(env, &out);
      return out;
    }
    napi_status st = napi_create_buffer_copy(env, (size_t)got, buf ? buf : "", NULL, &out);
    free(buf);
    if (st != napi_ok) return throw_errno(env, ENOMEM, call);
    return out;
  }
  return throw_errno(env, ERANGE, call);
}

static napi_value js_list(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return throw_type(env, "list(path: Buffer)");
  char *path = c_string(env, argv[0]);
  if (path == NULL) return throw_type(env, "path must be a Buffer without NUL");
  napi_value out = read_into_buffer(env, list_reader, path, NULL, "llistxattr");
  free(path);
  return out;
}

/* Reads arguments (path: Buffer, name: Buffer) into new C strings; 0 (with a TypeError
 * thrown and nothing left to free) if they are not that. */
static int path_and_name(napi_env env, napi_callback_info info, const char *usage,
                         char **path, char **name) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) {
    throw_type(env, usage);
    return 0;
  }
  *path = c_string(env, argv[0]);
  *name = c_string(env, argv[1]);
  if (*path != NULL && *name != NULL) return 1;
  free(*path);
  free(*name);
  throw_type(env, "path and name must be Buffers without NUL");
  return 0;
}

static napi_value js_get(napi_env env, napi_callback_info info) {
  char *path, *name;
  if (!path_and_name(env, info, "get(path: Buffer, name: Buffer)", &path, &name)) return NULL;
  napi_value out = read_into_buffer(env, get_reader, path, name, "lgetxattr");
  free(path);
  free(name);
  return out;
}

static int value_of(napi_env env, napi_value v, void **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return 0;
  if (napi_get_buffer_info(env, v, data, length) != napi_ok) return 0;
  /* An empty Buffer may have no memory behind it: the calls still want a pointer. */
  if (*length == 0) *data = (void *)"";
  return 1;
}

static napi_value js_set(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return throw_type(env, "set(path, name, value: Buffer)");
  char *path = c_string(env, argv[0]);
  char *name = c_string(env, argv[1]);
  void *value;
  size_t length;
  if (path == NULL || name == NULL || !value_of(env, argv[2], &value, &length)) {
    free(path);
    free(name);
    return throw_type(env, "path, name and value must be Buffers (path and name without NUL)");
  }
  int r = SET(path, name, value, length);
  int e = errno;
  free(path);
  free(name);
  if (r != 0) return throw_errno(env, e, "lsetxattr");
  return NULL;
}

static napi_value js_fset(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return throw_type(env, "fset(fd, name, value: Buffer)");
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return throw_type(env, "fd must be a number");
  char *name = c_string(env, argv[1]);
  void *value;
  size_t length;
  if (name == NULL || !value_of(env, argv[2], &value, &length)) {
    free(name);
    return throw_type(env, "name and value must be Buffers (name without NUL)");
  }
  int r = FSET(fd, name, value, length);
  int e = errno;
  free(name);
  if (r != 0) return throw_errno(env, e, "fsetxattr");
  return NULL;
}

static napi_value js_remove(napi_env env, napi_callback_info info) {
  char *path, *name;
  if (!path_and_name(env, info, "remove(path: Buffer, name: Buffer)", &path, &name)) return NULL;
  int r = REMOVE(path, name);
  int e = errno;
  free(path);
  free(name);
  if (r != 0) return throw_errno(env, e, "lremovexattr");
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"list", NULL, js_list, NULL, NULL, NULL, napi_enumerable, NULL},
      {"get", NULL, js_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"set", NULL, js_set, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fset", NULL, js_fset, NULL, NULL, NULL, napi_enumerable, NULL},
      {"remove", NULL, js_remove, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
