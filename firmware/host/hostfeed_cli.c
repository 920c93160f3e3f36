/* Host harness for the board's frame parser: stdin bytes -> one line per event:
 *   frame TYPE SEQ LEN PAYLOAD_HEX | crc SEQ | len SEQ | type SEQ;  then "garbage N" at the end. */
#include <stdio.h>
#include "hostfeed.h"

int main(void)
{
    static hostfeed_parser_t p;
    int c;
    hostfeed_init(&p);
    while ((c = getchar()) != EOF) {
        switch (hostfeed_push(&p, (uint8_t)c)) {
        case HOSTFEED_FRAME:
            printf("frame %c %u %u ", p.type, p.seq, p.len);
            for (unsigned i = 0; i < p.len; i++)
                printf("%02x", p.payload[i]);
            putchar('\n');
            break;
        case HOSTFEED_ERR_CRC: printf("crc %u\n", p.seq); break;
        case HOSTFEED_ERR_LEN: printf("len %u\n", p.seq); break;
        case HOSTFEED_ERR_TYPE: printf("type %u\n", p.seq); break;
        default: break;
        }
    }
    printf("garbage %lu\n", (unsigned long)p.garbage);
    return 0;
}
