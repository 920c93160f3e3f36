/* JSON-line writer (see jsonw.h). A line longer than the buffer is cut short (still one line
 * ending in a newline), so a reader counts it as broken instead of waiting for the rest. */
#include "jsonw.h"
#include "board.h"

#define LINE_MAX 512u

static char line[LINE_MAX];
static uint32_t len;
static int first;

static void put(const char *s)
{
    while (*s && len < LINE_MAX - 3u)
        line[len++] = *s++;
}

static void put_key(const char *key)
{
    if (!first)
        put(",");
    first = 0;
    put("\"");
    put(key);
    put("\":");
}

uint32_t jw_format_int(char *buf, int32_t value)
{
    char tmp[12];
    uint32_t n = 0, out = 0;
    uint32_t u = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (value < 0)
        buf[out++] = '-';
    while (n)
        buf[out++] = tmp[--n];
    buf[out] = '\0';
    return out;
}

static void put_uint(uint32_t v)
{
    char tmp[11];
    uint32_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    char out[11];
    uint32_t k = 0;
    while (n)
        out[k++] = tmp[--n];
    out[k] = '\0';
    put(out);
}

static void put_int(int32_t v)
{
    char buf[12];
    jw_format_int(buf, v);
    put(buf);
}

static void put_milli(int32_t milli)
{
    if (milli < 0) {
        put("-");
        milli = -milli;
    }
    put_uint((uint32_t)milli / 1000u);
    char frac[5] = {'.', (char)('0' + milli / 100 % 10), (char)('0' + milli / 10 % 10),
                    (char)('0' + milli % 10), '\0'};
    put(frac);
}

void jw_begin(const char *type)
{
    len = 0;
    first = 1;
    put("{");
    jw_str("type", type);
}

void jw_str(const char *key, const char *value)
{
    put_key(key);
    put("\"");
    put(value);      /* values are identifiers and class names: no escaping needed */
    put("\"");
}

void jw_int(const char *key, int32_t value) { put_key(key); put_int(value); }
void jw_uint(const char *key, uint32_t value) { put_key(key); put_uint(value); }
void jw_milli(const char *key, int32_t milli) { put_key(key); put_milli(milli); }

void jw_hex(const char *key, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char buf[13] = {'"', '0', 'x'};
    for (int i = 0; i < 8; i++)
        buf[3 + i] = digits[(value >> (28 - 4 * i)) & 0xFu];
    buf[11] = '"';
    buf[12] = '\0';
    put_key(key);
    put(buf);
}

void jw_array_begin(const char *key) { put_key(key); put("["); first = 1; }
void jw_array_end(void) { put("]"); first = 0; }

static void item_sep(void)
{
    if (!first)
        put(",");
    first = 0;
}

void jw_item_int(int32_t value) { item_sep(); put_int(value); }
void jw_item_milli(int32_t milli) { item_sep(); put_milli(milli); }
void jw_item_str(const char *value) { item_sep(); put("\""); put(value); put("\""); }

void jw_end(void)
{
    line[len++] = '}';
    line[len++] = '\n';
    uart_write(line, len);
}
