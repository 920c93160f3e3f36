/* A tiny JSON-line writer for the serial port: no printf, no heap. One line at a time:
 * jw_begin(type) ... jw_end() writes {"type":"<type>",...}\n in one go. */
#ifndef ASC_JSONW_H
#define ASC_JSONW_H

#include <stdint.h>

void jw_begin(const char *type);
void jw_str(const char *key, const char *value);
void jw_int(const char *key, int32_t value);
void jw_uint(const char *key, uint32_t value);
void jw_hex(const char *key, uint32_t value);
/* value / 1000 with three decimals, e.g. 996 -> 0.996 */
void jw_milli(const char *key, int32_t milli);
void jw_array_begin(const char *key);
void jw_item_int(int32_t value);
void jw_item_milli(int32_t milli);
void jw_item_str(const char *value);
void jw_array_end(void);
void jw_end(void);

/* Format value into buf (at least 12 bytes); returns the length. Pure, host-testable. */
uint32_t jw_format_int(char *buf, int32_t value);

#endif
