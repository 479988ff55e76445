package dev.tern.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.engine.Request;
import dev.tern.engine.RunningRequest;
import dev.tern.engine.Scheduler;
import dev.tern.tokenizer.Tokenizer;

import java.util.List;

/**
 * llama-server's {@code GET /slots}: one entry per sequence the scheduler decodes at once
 * ({@code --parallel}). A running request holds the lowest slot free when it was admitted, for as
 * long as it runs, as of the end of the last step; the rest are idle.
 */
final class Slots {
    private final Scheduler scheduler;
    private final Tokenizer tokenizer;
    private final boolean speculative;

    Slots(Scheduler scheduler, Tokenizer tokenizer, boolean speculative) {
        this.scheduler = scheduler;
        this.tokenizer = tokenizer;
        this.speculative = speculative;
    }

    /** The slots; with {@code failOnNoSlot} a 503 when every one is busy, as llama-server's {@code ?fail_on_no_slot}. */
    ArrayNode list(boolean failOnNoSlot) {
        int total = scheduler.config().maxRunning();
        List<RunningRequest> running = scheduler.running();
        if (failOnNoSlot && running.size() >= total) {
            throw new ApiException(503, "unavailable_error", "no slot available", null, "unavailable");
        }
        RunningRequest[] bySlot = new RunningRequest[total];
        for (RunningRequest r : running) {
            bySlot[r.slot()] = r;
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (int id = 0; id < total; id++) {
            ObjectNode slot = out.addObject().put("id", id).put("n_ctx", scheduler.contextSize()).put("speculative", speculative);
            if (bySlot[id] != null) {
                busy(slot, bySlot[id]);
            } else {
                slot.put("id_task", -1).put("is_processing", false);
                slot.putObject("next_token").put("has_next_token", false).put("n_remain", 0).put("n_decoded", 0);
            }
        }
        return out;
    }

    private void busy(ObjectNode slot, RunningRequest r) {
        Request q = r.request();
        slot.put("id_task", r.id()).put("is_processing", true);
        ObjectNode params = GenerationParams.settings(q.sampling(), q.maxTokens(), q.logprobs(), q.stop(), q.shift());
        params.put("seed", q.sampling().seed());
        slot.set("params", params);
        slot.put("prompt", tokenizer.decode(q.prompt()));
        slot.put("n_prompt_tokens", q.prompt().length).put("n_prompt_tokens_cache", r.cachedTokens()).put("n_past", r.computed());
        slot.putObject("next_token").put("has_next_token", true).put("n_remain", r.remaining()).put("n_decoded", r.generated());
    }
}
