package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Runs chat/completions stream chunks through a {@link Dialect} and reads back the events it writes. */
final class Translations {
    private Translations() {
    }

    /** The data of every event {@code dialect} writes for {@code chunks} (JSON texts) and the stream's end. */
    static List<JsonNode> events(Dialect dialect, List<String> chunks) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String chunk : chunks) {
            dialect.chunk(out, (ObjectNode) Json.parseObject(chunk.getBytes(StandardCharsets.UTF_8)));
        }
        dialect.end(out);
        List<JsonNode> events = new ArrayList<>();
        for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
            if (line.startsWith("data: ")) {
                events.add(Json.MAPPER.readTree(line.substring(6)));
            }
        }
        return events;
    }
}
