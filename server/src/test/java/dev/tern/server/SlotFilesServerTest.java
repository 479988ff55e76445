package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.engine.SessionFile;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama-server's POST /slots/{id}?action=save|erase|restore with --slot-save-path: the answers' shapes, a restored
 * file's tokens found by the next request, the refusals.
 */
class SlotFilesServerTest {
    private static final Tern.Options OPTIONS = new Tern.Options(1, 256, 2, KVCacheType.F32);

    private static ObjectNode completion(ArrayNode prompt, int n) {
        ObjectNode body = Json.object().put("n_predict", n).put("temperature", 0).put("return_tokens", true);
        body.set("prompt", prompt);
        return body;
    }

    private static JsonNode action(LoopbackServer s, String slot, String action, String filename, int status) throws Exception {
        ObjectNode body = Json.object();
        if (filename != null) {
            body.put("filename", filename);
        }
        HttpResponse<String> r = s.post("/slots/" + slot + "?action=" + action, Json.write(body), false);
        assertEquals(status, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    @Test
    void saveEraseRestore(@TempDir Path dir) throws Exception {
        Path model = Fixtures.stories260K("stories260K-f32.gguf");
        ServerConfig config = ServerConfig.loopback(0, LoopbackServer.MODEL).withSlotFiles(dir, SessionFile.fingerprint(model));
        try (LoopbackServer s = LoopbackServer.start(OPTIONS, config)) {
            ArrayNode prompt = Json.MAPPER.createArrayNode();
            for (int id : s.tern().tokenizer().encode("Once upon a time, there was a little girl named Lily. She liked to", true, false)) {
                prompt.add(id);
            }
            JsonNode first = s.postOk("/completion", completion(prompt, 40));
            ArrayNode held = prompt.deepCopy();
            first.path("tokens").forEach(held::add);

            JsonNode saved = action(s, "0", "save", "lily.bin", 200);
            assertEquals(0, saved.path("id_slot").asInt());
            assertEquals("lily.bin", saved.path("filename").asText());
            int n = saved.path("n_saved").asInt();
            assertEquals((held.size() - 1) / 16 * 16, n, saved.toString());
            assertEquals(Files.size(dir.resolve("lily.bin")), saved.path("n_written").asLong());
            assertTrue(saved.path("timings").has("save_ms"), saved.toString());

            assertEquals(held.size() - 1, action(s, "0", "erase", null, 200).path("n_erased").asInt());
            JsonNode restored = action(s, "1", "restore", "lily.bin", 200);
            assertEquals(n, restored.path("n_restored").asInt(), restored.toString());
            assertEquals(Files.size(dir.resolve("lily.bin")), restored.path("n_read").asLong());

            ArrayNode followUp = held.deepCopy();
            followUp.add(s.tern().tokenizer().encode(" Then", false, false)[0]);
            JsonNode next = s.postOk("/completion", completion(followUp, 8));
            assertEquals(n, next.path("tokens_cached").asInt(), next.toString());

            action(s, "0", "save", "../escape.bin", 400);
            action(s, "0", "save", "", 400);
            action(s, "0", "restore", "missing.bin", 400);
            action(s, "0", "nope", "lily.bin", 400);
            action(s, "99", "erase", null, 400);
            action(s, "x", "erase", null, 400);
        }
        try (LoopbackServer plain = LoopbackServer.start(OPTIONS, ServerConfig.loopback(0, LoopbackServer.MODEL))) {
            JsonNode refused = action(plain, "0", "save", "lily.bin", 501);
            assertTrue(refused.path("error").path("message").asText().contains("--slot-save-path"), refused.toString());
        }
    }
}
