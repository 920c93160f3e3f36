/* Classifier loop (see classifier.h). Timing covers the feature front end (every hop plus the
 * int8 window) and the network call separately. */
#include "classifier.h"
#include "board.h"
#include "jsonw.h"
#include "mic.h"
#include "asc.h"
#include "asc_data.h"
#include "asc_features.h"

#define N_CLASSES ASC_N_CLASSES

static const char *const class_names[N_CLASSES] = ASC_CLASS_NAMES;

static ai_handle net = AI_HANDLE_NULL;
AI_ALIGNED(4) static ai_u8 activations[AI_ASC_DATA_ACTIVATIONS_SIZE];
AI_ALIGNED(4) static int8_t net_in[AI_ASC_IN_1_SIZE];
AI_ALIGNED(4) static int8_t net_out[AI_ASC_OUT_1_SIZE];

static asc_features_t features;
static int16_t hop[ASC_FEATURES_HOP];
static uint32_t hop_fill;
static const char *source = "mic";
static uint32_t seq, new_columns, hops, feat_cycles;
static int16_t history[CLASSIFIER_SMOOTH][N_CLASSES];
static uint32_t history_len, history_head;

int classifier_init(void)
{
    ai_error err = ai_asc_create(&net, AI_ASC_DATA_CONFIG);
    if (err.type != AI_ERROR_NONE)
        return (int)err.type;
    ai_network_params params = AI_NETWORK_PARAMS_INIT(
        AI_ASC_DATA_WEIGHTS(ai_asc_data_weights_get()), AI_ASC_DATA_ACTIVATIONS(activations));
    if (!ai_asc_init(net, &params))
        return -1;
    classifier_reset("mic");
    return 0;
}

void classifier_reset(const char *src)
{
    asc_features_init(&features);
    source = src;
    hop_fill = seq = new_columns = hops = feat_cycles = 0u;
    history_len = history_head = 0u;
}

uint32_t classifier_windows(void)
{
    return seq;
}

/* Index of the largest of v[0..n-1] (ties: the lowest index). */
static uint32_t argmax(const int32_t *v, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

/* Sum of the last CLASSIFIER_SMOOTH dequantised outputs, kept in int8 steps (one scale). */
static uint32_t smoothed_class(void)
{
    int32_t sum[N_CLASSES] = {0};
    for (uint32_t i = 0; i < history_len; i++)
        for (uint32_t k = 0; k < N_CLASSES; k++)
            sum[k] += history[i][k];
    return argmax(sum, N_CLASSES);
}

/* The mel band that is the loudest in most of the window's columns (ties: the lower band; 0
 * for silence). Where a test tone lands, for bring-up (firmware/README.md). */
static uint32_t peak_band(void)
{
    int32_t votes[ASC_FEATURES_N_MELS] = {0};
    for (uint32_t c = 0; c < ASC_FEATURES_N_COLUMNS; c++) {
        const float *col = features.col_db[c];
        uint32_t best = 0;
        for (uint32_t b = 1; b < ASC_FEATURES_N_MELS; b++)
            if (col[b] > col[best])
                best = b;
        votes[best]++;
    }
    return argmax(votes, ASC_FEATURES_N_MELS);
}

static void report_mic_counters(void)
{
    mic_counters_t m = mic_counters();        /* since boot */
    jw_uint("dropped", m.dropped);
    jw_uint("dma_irqs", m.dma_irqs);
    jw_uint("dma_errors", m.dma_errors);
    jw_uint("overruns", m.overruns);
}

static void report(uint32_t net_cycles)
{
    int32_t centred[N_CLASSES];
    for (uint32_t k = 0; k < N_CLASSES; k++) {
        centred[k] = (int32_t)net_out[k] - (int32_t)(ASC_OUTPUT_ZERO_POINT);
        history[history_head][k] = (int16_t)centred[k];
    }
    history_head = (history_head + 1u) % CLASSIFIER_SMOOTH;
    if (history_len < CLASSIFIER_SMOOTH)
        history_len++;
    uint32_t top = argmax(centred, N_CLASSES);
    jw_begin("result");
    jw_str("src", source);
    jw_uint("seq", seq);
    jw_str("label", class_names[top]);
    jw_uint("class", top);
    jw_array_begin("scores");
    for (uint32_t k = 0; k < N_CLASSES; k++)
        jw_item_int(net_out[k]);
    jw_array_end();
    jw_array_begin("probs");
    for (uint32_t k = 0; k < N_CLASSES; k++)
        jw_item_milli((int32_t)((float)centred[k] * (float)(ASC_OUTPUT_SCALE) * 1000.0f + 0.5f));
    jw_array_end();
    jw_str("smoothed", class_names[smoothed_class()]);
    jw_uint("peak_band", peak_band());
    jw_uint("feat_cycles", feat_cycles);
    jw_uint("feat_hops", hops);
    jw_uint("net_cycles", net_cycles);
    jw_uint("stack", stack_high_water());
    if (source[0] == 'm')
        report_mic_counters();
    jw_end();
}

static void run_network(void)
{
    uint32_t t0 = counter_now();
    asc_features_window_int8(&features, net_in);
    uint32_t t1 = counter_now();
    ai_buffer in[AI_ASC_IN_NUM] = AI_ASC_IN;
    ai_buffer out[AI_ASC_OUT_NUM] = AI_ASC_OUT;
    in[0].data = AI_HANDLE_PTR(net_in);
    out[0].data = AI_HANDLE_PTR(net_out);
    ai_asc_run(net, &in[0], &out[0]);
    uint32_t t2 = counter_now();
    feat_cycles += t1 - t0;
    report(t2 - t1);
    seq++;
    new_columns = hops = feat_cycles = 0u;
}

static void push_hop(void)
{
    uint32_t t0 = counter_now();
    int got_column = asc_features_push(&features, hop);
    feat_cycles += counter_now() - t0;
    hops++;
    if (got_column)
        new_columns++;
    if (new_columns == ASC_FEATURES_N_COLUMNS && asc_features_columns(&features) == ASC_FEATURES_N_COLUMNS)
        run_network();
}

void classifier_push(const int16_t *pcm, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        hop[hop_fill++] = pcm[i];
        if (hop_fill == ASC_FEATURES_HOP) {
            hop_fill = 0u;
            push_hop();
        }
    }
}

void classifier_push_le(const uint8_t *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        hop[hop_fill++] = (int16_t)(uint16_t)(bytes[2u * i] | (bytes[2u * i + 1u] << 8));
        if (hop_fill == ASC_FEATURES_HOP) {
            hop_fill = 0u;
            push_hop();
        }
    }
}
