package dev.tern.model;

import dev.tern.engine.Engine;
import dev.tern.engine.Session;
import dev.tern.gguf.MetadataOverride;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** YaRN's RoPE angles against a transcription of ggml's rope_yarn and its cache, and its plumbing from GGUF. */
class RopeTest {
    private static final int DIMS = 64;
    private static final float BASE = 10000f;

    private static ModelConfig config(float freqScale, YarnScaling yarn) {
        return new ModelConfig("llama", 256, 512, 1, 4, 4, DIMS, 32, 8192, 1e-5f, BASE, DIMS, RopeStyle.NORMAL, freqScale, false,
                false, yarn);
    }

    /** ggml-cpu's rope_yarn_ramp, rope_yarn and ggml_rope_cache_init, and ggml.c's ggml_rope_yarn_corr_dims, in float. */
    private static float[] ggml(int pos, float freqScale, float extFactor, float attnFactor, float betaFast, float betaSlow, int nCtxOrig) {
        float start = (float) Math.floor(DIMS * (float) Math.log(nCtxOrig / (betaFast * 2 * (float) Math.PI)) / (2 * (float) Math.log(BASE)));
        float end = (float) Math.ceil(DIMS * (float) Math.log(nCtxOrig / (betaSlow * 2 * (float) Math.PI)) / (2 * (float) Math.log(BASE)));
        float[] corr = {Math.max(0, start), Math.min(DIMS - 1, end)};
        float thetaScale = (float) Math.pow(BASE, -2.0f / DIMS);
        float[] cache = new float[DIMS];
        float theta = pos;
        for (int i0 = 0; i0 < DIMS; i0 += 2) {
            float thetaExtrap = theta;
            float thetaInterp = freqScale * thetaExtrap;
            float t = thetaInterp;
            float mscale = attnFactor;
            if (extFactor != 0.0f) {
                float y = (i0 / 2 - corr[0]) / Math.max(0.001f, corr[1] - corr[0]);
                float rampMix = (1 - Math.min(1, Math.max(0, y))) * extFactor;
                t = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix;
                mscale *= 1.0f + 0.1f * (float) Math.log(1.0f / freqScale);
            }
            cache[i0] = (float) Math.cos(t) * mscale;
            cache[i0 + 1] = (float) Math.sin(t) * mscale;
            theta *= thetaScale;
        }
        return cache;
    }

    @Test
    void yarnAnglesAreGgmls() {
        YarnScaling yarn = new YarnScaling(1f, 1f, 32f, 1f, 2048);
        Rope rope = new Rope(config(0.25f, yarn), null);
        float[] cs = new float[DIMS];
        for (int pos : new int[]{0, 1, 7, 100, 2047, 5000, 8191}) {
            rope.angles(pos, cs, 0);
            float[] want = ggml(pos, 0.25f, 1f, 1f, 32f, 1f, 2048);
            for (int j = 0; j < DIMS; j++) {
                assertEquals(want[j], cs[j], 1e-6f * Math.max(1, Math.abs(want[j])), "pos " + pos + " [" + j + "]");
            }
        }
        // The highest frequencies keep their angle, the lowest are interpolated; both scaled by 1 + 0.1 ln 4.
        float m = 1f + 0.1f * (float) Math.log(4);
        rope.angles(1000, cs, 0);
        assertEquals((float) Math.cos(1000) * m, cs[0], 1e-5f);
        float lowest = 1000 * (float) Math.pow(BASE, -2.0 * (DIMS / 2 - 1) / DIMS);
        assertEquals((float) Math.cos(lowest * 0.25f) * m, cs[DIMS - 2], 1e-3f);
    }

    @Test
    void withoutYarnTheAnglesAreLinearScalings() {
        float[] plain = new float[DIMS], linear = new float[DIMS];
        new Rope(config(0.5f, YarnScaling.NONE), null).angles(300, linear, 0);
        float[] want = ggml(300, 0.5f, 0f, 1f, 32f, 1f, 2048);
        for (int j = 0; j < DIMS; j++) {
            assertEquals(want[j], linear[j], 1e-6f);
        }
        new Rope(config(1f, YarnScaling.NONE), null).angles(300, plain, 0);
        assertNotEquals(plain[DIMS - 2], linear[DIMS - 2]);
    }

    /** From GGUF: yarn with factor 1 is no scaling at all (the same greedy text); factor 4 changes it. */
    @Test
    void yarnFromGgufMetadata() {
        Path file = Fixtures.stories260K("stories260K-f32.gguf");
        try (Model plain = Model.load(file);
             Model one = Model.load(file, overrides("llama.rope.scaling.type=str:yarn", "llama.rope.scaling.factor=float:1"));
             Model four = Model.load(file, overrides("llama.rope.scaling.type=str:yarn", "llama.rope.scaling.factor=float:4",
                     "llama.rope.scaling.original_context_length=int:128"))) {
            assertEquals(YarnScaling.NONE, plain.config().yarn());
            assertEquals(new YarnScaling(1f, 1f, 32f, 1f, 128), four.config().yarn());
            assertEquals(0.25f, four.config().ropeFreqScale());
            int[] tokens = {1, 403, 407, 261, 378, 300, 301, 302};
            float[] a = logits(plain, tokens), b = logits(one, tokens), c = logits(four, tokens);
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 1e-4f, "factor 1 [" + i + "]");
            }
            double diff = 0;
            for (int i = 0; i < a.length; i++) {
                diff = Math.max(diff, Math.abs(a[i] - c[i]));
            }
            assertEquals(true, diff > 1e-2, "factor 4 changes the logits: " + diff);
        }
    }

    private static float[] logits(Model model, int[] tokens) {
        try (Engine engine = new Engine(model, 1, 4, KVCacheType.F32); Session s = engine.newSession(64)) {
            return s.forward(tokens);
        }
    }

    private static java.util.Map<String, dev.tern.gguf.MetadataValue> overrides(String... kv) {
        return MetadataOverride.asMetadata(List.of(kv).stream().map(MetadataOverride::parse).toList());
    }
}
