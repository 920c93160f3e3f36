/* Host-feed framed protocol, board side (the host side is asc_toolchain/deploy/serial/hostfeed.py).
 *
 * Frame (little endian):  A5 5A | type | seq | len (u16) | payload[len] | crc (u16)
 * crc = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, seq, len and payload.
 * Types: 'S' start feed, 'P' PCM block (int16 samples, len even, at most HOSTFEED_MAX_PAYLOAD),
 *        'E' end feed, 'I' info (repeat the boot line).
 * The parser is pure (no hardware) and fed one byte at a time. */
#ifndef ASC_HOSTFEED_H
#define ASC_HOSTFEED_H

#include <stdint.h>

#define HOSTFEED_SYNC0 0xA5u
#define HOSTFEED_SYNC1 0x5Au
#define HOSTFEED_MAX_PAYLOAD 1024u
#define HOSTFEED_START 'S'
#define HOSTFEED_PCM 'P'
#define HOSTFEED_END 'E'
#define HOSTFEED_INFO 'I'

typedef enum {
    HOSTFEED_NONE = 0,    /* byte consumed, no frame yet */
    HOSTFEED_FRAME,       /* a complete frame with a good checksum: type, seq, len, payload */
    HOSTFEED_ERR_CRC,     /* a frame arrived with a bad checksum (seq as received) */
    HOSTFEED_ERR_LEN,     /* the length field exceeds HOSTFEED_MAX_PAYLOAD or is odd for 'P' */
    HOSTFEED_ERR_TYPE     /* good checksum, unknown type */
} hostfeed_event_t;

typedef struct {
    uint8_t state;
    uint8_t type;
    uint8_t seq;
    uint16_t len;
    uint16_t pos;
    uint16_t crc;
    uint16_t rx_crc;
    uint32_t garbage;     /* bytes skipped while hunting for the sync pattern */
    uint8_t payload[HOSTFEED_MAX_PAYLOAD];
} hostfeed_parser_t;

uint16_t hostfeed_crc16(uint16_t crc, const uint8_t *data, uint32_t n);
void hostfeed_init(hostfeed_parser_t *p);
/* Feed one received byte; the frame fields stay valid until the next call. */
hostfeed_event_t hostfeed_push(hostfeed_parser_t *p, uint8_t byte);

#endif
