package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.tern.model.LoraAdapter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * llama-server's LoRA scales over the adapters loaded with {@code --lora}: {@code GET
 * /lora-adapters} lists them with their scales, {@code POST /lora-adapters} sets the scales every
 * later request starts from, and a request's {@code lora} sets its own. In both, an adapter left
 * out gets scale 0, as in llama-server. Scales other than those loaded are served by a
 * {@link LoraAdapter#mix}, one per distinct set of scales, so that requests with the same scales
 * share their prefix cache.
 */
final class LoraScales {
    /** Distinct sets of scales kept with their mix; past that, a request's mix is its own. */
    private static final int MAX_MIXES = 64;
    private final List<LoraAdapter> applied;
    private final float[] loaded;
    private final Map<List<Float>, LoraAdapter> mixes = new LinkedHashMap<>();
    private float[] current;

    LoraScales(List<LoraAdapter> applied) {
        this.applied = applied;
        this.loaded = new float[applied.size()];
        for (int i = 0; i < loaded.length; i++) {
            loaded[i] = applied.get(i).scale();
        }
        this.current = loaded.clone();
    }

    /** GET /lora-adapters: [{"id", "path", "scale"}]. */
    synchronized ArrayNode list() {
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (int i = 0; i < applied.size(); i++) {
            out.addObject().put("id", i).put("path", applied.get(i).path().toString()).put("scale", current[i]);
        }
        return out;
    }

    /** POST /lora-adapters: the scales later requests start from. */
    synchronized void set(JsonNode body) {
        current = scales(body, "the body");
    }

    /**
     * The adapter that serves a request with this {@code lora} field (null or missing: the current
     * scales): null when those are the loaded ones.
     */
    synchronized LoraAdapter forRequest(JsonNode lora) {
        float[] s = lora == null || lora.isNull() || lora.isMissingNode() || lora.isArray() && lora.isEmpty() ? current : scales(lora, "lora");
        if (Arrays.equals(s, loaded)) {
            return null;
        }
        List<Float> key = new ArrayList<>();
        for (float f : s) {
            key.add(f);
        }
        LoraAdapter mix = mixes.get(key);
        if (mix == null) {
            mix = LoraAdapter.mix(applied, s);
            if (mixes.size() < MAX_MIXES) {
                mixes.put(key, mix);
            }
        }
        return mix;
    }

    private float[] scales(JsonNode list, String what) {
        String param = what.equals("lora") ? "lora" : null;
        if (!list.isArray()) {
            throw ApiException.badRequest(what + " must be an array of {\"id\", \"scale\"}", param);
        }
        if (applied.isEmpty() && !list.isEmpty()) {
            throw ApiException.badRequest("no LoRA adapters are loaded (tern serve --lora FILE)", param);
        }
        float[] s = new float[applied.size()];
        for (JsonNode e : list) {
            JsonNode id = e.path("id");
            JsonNode scale = e.path("scale");
            if (!id.isIntegralNumber() || id.asLong() < 0 || id.asLong() >= applied.size()) {
                throw ApiException.badRequest(what + ": each entry needs an id of a loaded adapter, 0 to " + (applied.size() - 1), param);
            }
            if (!scale.isNumber() || !Float.isFinite((float) scale.asDouble())) {
                throw ApiException.badRequest(what + ": each entry needs a finite number as its scale", param);
            }
            s[id.asInt()] = (float) scale.asDouble();
        }
        return s;
    }
}
