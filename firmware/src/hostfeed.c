/* Host-feed frame parser (see hostfeed.h). Resynchronises on the sync pattern after any error. */
#include "hostfeed.h"

enum { ST_SYNC0, ST_SYNC1, ST_TYPE, ST_SEQ, ST_LEN0, ST_LEN1, ST_PAYLOAD, ST_CRC0, ST_CRC1 };

static uint16_t crc_byte(uint16_t crc, uint8_t b)
{
    crc ^= (uint16_t)((uint16_t)b << 8);
    for (int i = 0; i < 8; i++)
        crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    return crc;
}

uint16_t hostfeed_crc16(uint16_t crc, const uint8_t *data, uint32_t n)
{
    while (n--)
        crc = crc_byte(crc, *data++);
    return crc;
}

void hostfeed_init(hostfeed_parser_t *p)
{
    p->state = ST_SYNC0;
    p->garbage = 0u;
}

static int known_type(uint8_t t)
{
    return t == HOSTFEED_START || t == HOSTFEED_PCM || t == HOSTFEED_END || t == HOSTFEED_INFO;
}

static hostfeed_event_t header_byte(hostfeed_parser_t *p, uint8_t byte)
{
    p->crc = crc_byte(p->crc, byte);
    switch (p->state) {
    case ST_TYPE: p->type = byte; p->state = ST_SEQ; break;
    case ST_SEQ: p->seq = byte; p->state = ST_LEN0; break;
    case ST_LEN0: p->len = byte; p->state = ST_LEN1; break;
    default:
        p->len |= (uint16_t)((uint16_t)byte << 8);
        p->pos = 0u;
        if (p->len > HOSTFEED_MAX_PAYLOAD || (p->type == HOSTFEED_PCM && (p->len & 1u))) {
            p->state = ST_SYNC0;
            return HOSTFEED_ERR_LEN;
        }
        p->state = p->len ? ST_PAYLOAD : ST_CRC0;
        break;
    }
    return HOSTFEED_NONE;
}

static hostfeed_event_t trailer_byte(hostfeed_parser_t *p, uint8_t byte)
{
    if (p->state == ST_PAYLOAD) {
        p->crc = crc_byte(p->crc, byte);
        p->payload[p->pos++] = byte;
        if (p->pos == p->len)
            p->state = ST_CRC0;
        return HOSTFEED_NONE;
    }
    if (p->state == ST_CRC0) {
        p->rx_crc = byte;
        p->state = ST_CRC1;
        return HOSTFEED_NONE;
    }
    p->rx_crc |= (uint16_t)((uint16_t)byte << 8);
    p->state = ST_SYNC0;
    if (p->rx_crc != p->crc)
        return HOSTFEED_ERR_CRC;
    return known_type(p->type) ? HOSTFEED_FRAME : HOSTFEED_ERR_TYPE;
}

hostfeed_event_t hostfeed_push(hostfeed_parser_t *p, uint8_t byte)
{
    switch (p->state) {
    case ST_SYNC0:
        if (byte == HOSTFEED_SYNC0)
            p->state = ST_SYNC1;
        else
            p->garbage++;
        return HOSTFEED_NONE;
    case ST_SYNC1:
        if (byte == HOSTFEED_SYNC1) {
            p->state = ST_TYPE;
            p->crc = 0xFFFFu;
        } else if (byte != HOSTFEED_SYNC0) {
            p->garbage += 2u;
            p->state = ST_SYNC0;
        } else {
            p->garbage++;
        }
        return HOSTFEED_NONE;
    case ST_TYPE: case ST_SEQ: case ST_LEN0: case ST_LEN1:
        return header_byte(p, byte);
    default:
        return trailer_byte(p, byte);
    }
}
