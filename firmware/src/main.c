/* Firmware entry: boot line, then either the microphones or the host feed drive the classifier.
 * Serial protocol and line format: firmware/README.md. */
#include <stdint.h>
#include "board.h"
#include "classifier.h"
#include "hostfeed.h"
#include "jsonw.h"
#include "mic.h"
#include "asc.h"
#include "asc_features.h"

#ifndef ASC_BOARD_NAME
#error "ASC_BOARD_NAME comes from the build (asc-tool build passes the board file's values)"
#endif

#define FW_VERSION "asc-fw/" ASC_FW_VERSION
#define CALIB_ITERATIONS 500000u          /* 1,000,000 instructions */

static const char *const class_names[ASC_N_CLASSES] = ASC_CLASS_NAMES;
static hostfeed_parser_t parser;
static uint32_t sysclk_hz, calib_cycles, feed_samples;
static int feed_on, mic_ok, init_error;
static int last_seq = -1;

static void start_mic(void)
{
    mic_ok = mic_start(sysclk_hz, ASC_SAMPLE_RATE_HZ, ASC_MIC_MIN_HZ, ASC_MIC_MAX_HZ,
                       ASC_MIC_TARGET_HZ) == 0;
}

static void print_boot(void)
{
    const dfsdm_plan_t *plan = mic_plan();
    jw_begin("boot");
    jw_str("board", ASC_BOARD_NAME);
    jw_str("fw", FW_VERSION);
    jw_str("model", ASC_MODEL_HASH);
    jw_array_begin("classes");
    for (uint32_t k = 0; k < ASC_N_CLASSES; k++)
        jw_item_str(class_names[k]);
    jw_array_end();
    jw_uint("sysclk_hz", sysclk_hz);
    jw_uint("lse", (uint32_t)clock_lse());
    jw_str("counter", counter_name());
    jw_uint("calib_instr", 2u * CALIB_ITERATIONS);
    jw_uint("calib_cycles", calib_cycles);
    jw_uint("sample_rate", ASC_SAMPLE_RATE_HZ);
    jw_uint("hop", ASC_FEATURES_HOP);
    jw_uint("columns", ASC_FEATURES_N_COLUMNS);
    jw_uint("max_block", HOSTFEED_MAX_PAYLOAD);
    jw_uint("stack_size", stack_size());
    jw_uint("mic_hz", mic_ok ? plan->mic_hz : 0u);
    jw_uint("mic_fosr", mic_ok ? plan->fosr : 0u);
    jw_uint("mic_sinc", mic_ok ? plan->order : 0u);
    jw_int("init_error", init_error);
    jw_end();
}

static void reply(const char *type, uint8_t seq, const char *err)
{
    jw_begin(type);
    jw_uint("seq", seq);
    if (err)
        jw_str("err", err);
    jw_end();
}

static void feed_line(const char *state)
{
    jw_begin("feed");
    jw_str("state", state);
    jw_uint("samples", feed_samples);
    jw_uint("windows", classifier_windows());
    jw_end();
}

static void on_start(uint8_t seq)
{
    if (feed_on && seq == last_seq)
        return;                                   /* a resent start: already running */
    mic_stop();
    classifier_reset("feed");
    feed_on = 1;
    feed_samples = 0u;
    feed_line("on");
}

static void on_end(void)
{
    if (!feed_on)
        return;
    feed_line("off");
    feed_on = 0;
    classifier_reset("mic");
    start_mic();
}

static void on_frame(const hostfeed_parser_t *p)
{
    if (p->type == HOSTFEED_PCM && !feed_on) {
        reply("nak", p->seq, "state");
        return;
    }
    if (p->type == HOSTFEED_INFO)
        print_boot();
    else if (p->type == HOSTFEED_START)
        on_start(p->seq);
    else if (p->type == HOSTFEED_END)
        on_end();
    else if (p->seq != last_seq) {                /* a resent block is acknowledged, not re-fed */
        classifier_push_le(p->payload, p->len / 2u);
        feed_samples += p->len / 2u;
    }
    last_seq = p->seq;
    reply("ack", p->seq, 0);
}

static void on_byte(uint8_t byte)
{
    switch (hostfeed_push(&parser, byte)) {
    case HOSTFEED_FRAME: on_frame(&parser); break;
    case HOSTFEED_ERR_CRC: reply("nak", parser.seq, "crc"); break;
    case HOSTFEED_ERR_LEN: reply("nak", parser.seq, "len"); break;
    case HOSTFEED_ERR_TYPE:
#ifdef ASC_FAULT_TEST
        if (parser.type == 'F')                   /* test builds only: prove the fault report */
            __asm volatile("udf #0");
#endif
        reply("nak", parser.seq, "type");
        break;
    default: break;
    }
}

int main(void)
{
    static int16_t block[MIC_BLOCK];
    sysclk_hz = clock_init(ASC_SYSCLK_HZ);
    uart_init(sysclk_hz, ASC_UART_BAUD);        /* PCLK2 = HCLK = SYSCLK: no APB prescaler */
    counter_init();
    calib_cycles = counter_calibrate(CALIB_ITERATIONS);
    hostfeed_init(&parser);
    init_error = classifier_init();
    start_mic();
    print_boot();
    for (;;) {
        int c;
        while ((c = uart_getc()) >= 0)
            on_byte((uint8_t)c);
        if (!feed_on && mic_ok && mic_read(block))
            classifier_push(block, MIC_BLOCK);
        else
            board_idle();
    }
}
