package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import dev.tern.Tern;
import dev.tern.testing.Fixtures;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The server tests' fixture: stories260K (F32) behind a Tern server on a free loopback port,
 * with an OpenAI SDK client and a plain HTTP client for what the SDK cannot send.
 */
record LoopbackServer(Tern tern, TernServer server, ServerConfig config, OpenAIClient client, HttpClient http)
        implements AutoCloseable {
    static final String MODEL = "stories260K";

    /** Loads the model with {@code options} and serves it as {@link #MODEL} with {@code config} on port 0. */
    static LoopbackServer start(Tern.Options options, ServerConfig config) {
        return start(Fixtures.stories260K("stories260K-f32.gguf"), options, config);
    }

    /** Serves the model at {@code model} (a variant of stories260K made by a test) as {@link #MODEL}. */
    static LoopbackServer start(Path model, Tern.Options options, ServerConfig config) {
        Tern tern = Tern.load(model, null, options);
        TernServer server = TernServer.start(tern, config);
        String key = config.apiKey() == null ? "none" : config.apiKey();
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(server.url() + "/v1").apiKey(key).maxRetries(0).build();
        return new LoopbackServer(tern, server, config, client, HttpClient.newHttpClient());
    }

    /** POSTs a JSON body to {@code path}, with the server's API key when {@code withKey}. */
    HttpResponse<String> post(String path, String body, boolean withKey) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (withKey) {
            b.header("Authorization", "Bearer " + config.apiKey());
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** POSTs a JSON body without a key, checks for 200 and reads the answer. */
    JsonNode postOk(String path, ObjectNode body) throws Exception {
        HttpResponse<String> r = post(path, Json.write(body), false);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    /** GETs {@code path} without a key. */
    HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.url() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        server.close();
        tern.close();
    }
}
