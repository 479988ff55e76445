package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A request the server refuses, answered with the OpenAI error JSON
 * ({@code {"error": {"message", "type", "param", "code"}}}) and an HTTP status.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String type, String message, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static ApiException badRequest(String message, String param) {
        return new ApiException(400, "invalid_request_error", message, param, null);
    }

    static ApiException notFound(String message, String code) {
        return new ApiException(404, "invalid_request_error", message, null, code);
    }

    /** OpenAI's 404 for a model name this server does not serve. */
    static ApiException unknownModel(String model) {
        return notFound("The model '" + model + "' does not exist", "model_not_found");
    }

    /** Refuses a request body whose {@code model}, when given, is not {@code served}. */
    static void requireModel(JsonNode body, String served) {
        if (body.hasNonNull("model") && !served.equals(body.get("model").asText())) {
            throw unknownModel(body.get("model").asText());
        }
    }
}
