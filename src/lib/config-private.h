#ifndef PYMAP_CONFIG_PRIVATE_H
#define PYMAP_CONFIG_PRIVATE_H
/* Shared between config.c (table, parser) and config-finish.c (computed defaults and
 * checks across keys). Nobody else includes this. */
#include "config.h"

void config_error_add(struct config *cfg, const char *origin, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Where a key was set: "file:line", a flag such as "--port", or "default". */
const char *config_origin(const struct config *cfg, const char *section, const char *key);
/* Store a computed default (takes the reference); the key still counts as unset. */
void config_fill(struct config *cfg, const char *section, const char *key, json_t *value);

#endif
