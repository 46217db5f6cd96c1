package io.mcp.affinity.sample.conformance;

import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import io.modelcontextprotocol.json.McpJsonDefaults;
import io.modelcontextprotocol.json.TypeRef;
import io.modelcontextprotocol.server.McpServerFeatures.SyncToolSpecification;
import io.modelcontextprotocol.server.McpSyncServerExchange;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.AudioContent;
import io.modelcontextprotocol.spec.McpSchema.CallToolRequest;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.CreateMessageRequest;
import io.modelcontextprotocol.spec.McpSchema.CreateMessageResult;
import io.modelcontextprotocol.spec.McpSchema.ElicitRequest;
import io.modelcontextprotocol.spec.McpSchema.ElicitResult;
import io.modelcontextprotocol.spec.McpSchema.EmbeddedResource;
import io.modelcontextprotocol.spec.McpSchema.EnumSchemaOption;
import io.modelcontextprotocol.spec.McpSchema.ImageContent;
import io.modelcontextprotocol.spec.McpSchema.LoggingLevel;
import io.modelcontextprotocol.spec.McpSchema.LoggingMessageNotification;
import io.modelcontextprotocol.spec.McpSchema.ProgressNotification;
import io.modelcontextprotocol.spec.McpSchema.Role;
import io.modelcontextprotocol.spec.McpSchema.SamplingMessage;
import io.modelcontextprotocol.spec.McpSchema.TextContent;
import io.modelcontextprotocol.spec.McpSchema.TextResourceContents;
import io.modelcontextprotocol.spec.McpSchema.Tool;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;

import static io.mcp.affinity.sample.conformance.ConformanceContent.NO_ARGUMENTS;
import static io.mcp.affinity.sample.conformance.ConformanceContent.PNG;
import static io.mcp.affinity.sample.conformance.ConformanceContent.WAV;

/**
 * The tools the conformance scenarios call, with the names, arguments and answers they expect. Declared as raw tool
 * specifications rather than {@code @McpTool} methods because the scenarios check the exact content types (image,
 * audio, embedded resource) and the progress token of the request.
 */
@Configuration(proxyBeanMethods = false)
@Profile("conformance")
class ConformanceTools {

	private static final TypeRef<Map<String, Object>> JSON_OBJECT = new TypeRef<>() {
	};

	@Bean
	List<SyncToolSpecification> conformanceToolSpecifications() {
		return List.of(
				tool("test_simple_text", "Returns a text content.",
						(exchange, request) -> text("This is a simple text response for testing.")),
				tool("test_image_content", "Returns an image content.",
						(exchange, request) -> result(ImageContent.builder(PNG, "image/png").build())),
				tool("test_audio_content", "Returns an audio content.",
						(exchange, request) -> result(AudioContent.builder(WAV, "audio/wav").build())),
				tool("test_embedded_resource", "Returns an embedded resource.",
						(exchange, request) -> result(embedded("test://embedded-resource", "text/plain",
								"This is an embedded resource content."))),
				tool("test_multiple_content_types", "Returns text, an image and an embedded resource.",
						(exchange, request) -> CallToolResult.builder()
							.addTextContent("Multiple content types test:")
							.addContent(ImageContent.builder(PNG, "image/png").build())
							.addContent(embedded("test://mixed-content-resource", "application/json",
									"{\"test\":\"data\",\"value\":123}"))
							.build()),
				tool("test_tool_with_logging", "Sends three log messages while it runs.", this::withLogging),
				tool("test_error_handling", "Always reports an error, as a tool result.",
						// A thrown exception would become a JSON-RPC error; a tool's failure is a result.
						(exchange, request) -> CallToolResult.builder()
							.addTextContent("This tool intentionally returns an error for testing")
							.isError(true)
							.build()),
				tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100.", this::withProgress),
				tool("test_sampling", "Asks the client's model to answer a prompt (sampling).",
						objectSchema(Map.of("prompt", stringProperty("the prompt for the model")), List.of("prompt")),
						this::sampling),
				tool("test_elicitation", "Asks the user for a username and an email (elicitation).",
						objectSchema(Map.of("message", stringProperty("the message shown to the user")),
								List.of("message")),
						this::elicitation),
				tool("test_elicitation_sep1034_defaults",
						"Elicits one value of each primitive type, each with a default (SEP-1034).",
						(exchange, request) -> elicit(exchange, "Please provide your information with defaults",
								sep1034Schema())),
				tool("test_elicitation_sep1330_enums", "Elicits five kinds of enums (SEP-1330).",
						(exchange, request) -> elicit(exchange, "Select your preferences", sep1330Schema())),
				tool("json_schema_2020_12_tool", "Declares a JSON Schema 2020-12 input schema (SEP-1613).",
						json2020Schema(), (exchange, request) -> text("ok")),
				tool("test_reconnection", "Answers after a short pause; the suite's SSE polling scenario calls it.",
						this::reconnection));
	}

	private CallToolResult withLogging(McpSyncServerExchange exchange, CallToolRequest request) {
		for (String message : List.of("Tool execution started", "Tool processing data", "Tool execution completed")) {
			exchange.loggingNotification(LoggingMessageNotification.builder(LoggingLevel.INFO, message).build());
		}
		return text("Tool execution completed with logging");
	}

	private CallToolResult withProgress(McpSyncServerExchange exchange, CallToolRequest request) {
		Object token = request.progressToken();
		if (token == null) {
			return text("Tool execution completed without progress");
		}
		for (double progress : new double[] { 0, 50, 100 }) {
			exchange.progressNotification(ProgressNotification.builder(token, progress).total(100.0).build());
		}
		return text("Tool execution completed with progress");
	}

	private CallToolResult sampling(McpSyncServerExchange exchange, CallToolRequest request) {
		String prompt = String.valueOf(request.arguments().get("prompt"));
		CreateMessageResult answer = exchange.createMessage(CreateMessageRequest
			.builder(List.of(SamplingMessage.builder(Role.USER, TextContent.builder(prompt).build()).build()), 100)
			.build());
		String answerText = (answer.content() instanceof TextContent content) ? content.text()
				: String.valueOf(answer.content());
		return text("LLM response: " + answerText);
	}

	private CallToolResult elicitation(McpSyncServerExchange exchange, CallToolRequest request) {
		String message = String.valueOf(request.arguments().get("message"));
		return elicit(exchange, message,
				objectSchema(Map.of("username", stringProperty("the user's name"), "email",
						stringProperty("the user's email address")), List.of("username", "email")));
	}

	private CallToolResult reconnection(McpSyncServerExchange exchange, CallToolRequest request) {
		// The scenario wants the server to close the POST stream here and deliver the result after the client
		// resumes with Last-Event-ID. The exchange offers no way to close the stream and the WebFlux transport does
		// not replay, so the result comes on the open stream (see conformance/expected-failures.yml).
		try {
			Thread.sleep(100);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
		return text("Reconnection test completed.");
	}

	private static CallToolResult elicit(McpSyncServerExchange exchange, String message,
			Map<String, Object> requestedSchema) {
		ElicitResult answer = exchange.createElicitation(ElicitRequest.builder(message, requestedSchema).build());
		return text("Elicitation completed: action=" + answer.action() + ", content=" + answer.content());
	}

	private static Map<String, Object> sep1034Schema() {
		return objectSchema(Map.of("name", Map.of("type", "string", "default", "John Doe"), "age",
				Map.of("type", "integer", "default", 30), "score", Map.of("type", "number", "default", 95.5), "status",
				Map.of("type", "string", "enum", List.of("active", "inactive", "pending"), "default", "active"),
				"verified", Map.of("type", "boolean", "default", true)),
				List.of("name", "age", "score", "status", "verified"));
	}

	@SuppressWarnings("deprecation") // LegacyTitledEnumSchema: the scenario checks the legacy form too
	private static Map<String, Object> sep1330Schema() {
		Map<String, Object> properties = Map.of("untitledSingle",
				json(McpSchema.UntitledSingleSelectEnumSchema.builder()
					.enumValues("option1", "option2", "option3")
					.build()),
				"titledSingle",
				json(McpSchema.TitledSingleSelectEnumSchema.builder()
					.oneOf(new EnumSchemaOption("value1", "First Option"),
							new EnumSchemaOption("value2", "Second Option"),
							new EnumSchemaOption("value3", "Third Option"))
					.build()),
				"legacyEnum",
				json(McpSchema.LegacyTitledEnumSchema.builder()
					.enumValues("opt1", "opt2", "opt3")
					.enumNames("Option One", "Option Two", "Option Three")
					.build()),
				"untitledMulti",
				json(McpSchema.UntitledMultiSelectEnumSchema
					.builder(McpSchema.UntitledMultiSelectItems.builder()
						.enumValues("option1", "option2", "option3")
						.build())
					.build()),
				"titledMulti",
				json(McpSchema.TitledMultiSelectEnumSchema
					.builder(McpSchema.TitledMultiSelectItems.builder()
						.anyOf(new EnumSchemaOption("value1", "First Choice"),
								new EnumSchemaOption("value2", "Second Choice"),
								new EnumSchemaOption("value3", "Third Choice"))
						.build())
					.build()));
		return objectSchema(properties,
				List.of("untitledSingle", "titledSingle", "legacyEnum", "untitledMulti", "titledMulti"));
	}

	private static Map<String, Object> json2020Schema() {
		return Map.of("$schema", McpSchema.JSON_SCHEMA_DIALECT_2020_12, "type", "object", "$defs",
				Map.of("address",
						objectSchema(Map.of("street", Map.of("type", "string"), "city", Map.of("type", "string")),
								List.of())),
				"properties", Map.of("name", Map.of("type", "string"), "address", Map.of("$ref", "#/$defs/address")),
				"additionalProperties", false);
	}

	// The enum schema records serialize to exactly the JSON the scenario expects.
	private static Map<String, Object> json(Object schema) {
		return McpJsonDefaults.getMapper().convertValue(schema, JSON_OBJECT);
	}

	private static Map<String, Object> objectSchema(Map<String, Object> properties, List<String> required) {
		return required.isEmpty() ? Map.of("type", "object", "properties", properties)
				: Map.of("type", "object", "properties", properties, "required", required);
	}

	private static Map<String, Object> stringProperty(String description) {
		return Map.of("type", "string", "description", description);
	}

	private static SyncToolSpecification tool(String name, String description,
			BiFunction<McpSyncServerExchange, CallToolRequest, CallToolResult> handler) {
		return tool(name, description, NO_ARGUMENTS, handler);
	}

	private static SyncToolSpecification tool(String name, String description, Map<String, Object> inputSchema,
			BiFunction<McpSyncServerExchange, CallToolRequest, CallToolResult> handler) {
		return SyncToolSpecification.builder()
			.tool(Tool.builder(name, inputSchema).description(description).build())
			.callHandler(handler)
			.build();
	}

	private static EmbeddedResource embedded(String uri, String mimeType, String text) {
		return EmbeddedResource.builder(TextResourceContents.builder(uri, text).mimeType(mimeType).build()).build();
	}

	private static CallToolResult text(String text) {
		return CallToolResult.builder().addTextContent(text).build();
	}

	private static CallToolResult result(McpSchema.Content content) {
		return CallToolResult.builder().addContent(content).build();
	}

}
