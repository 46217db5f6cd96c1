package io.mcp.affinity.sample;

import java.util.Map;

import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import org.springframework.ai.mcp.annotation.McpTool;
import org.springframework.ai.mcp.annotation.McpToolParam;
import org.springframework.ai.mcp.annotation.context.McpSyncRequestContext;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * The sample's tools. Their contract is relied on by end-to-end checks: keep names, arguments and answers stable.
 */
@Component
public class SampleTools {

	private final SessionMemory memory;

	private final String instance;

	public SampleTools(SessionMemory memory,
			@Value("${mcp.affinity.local-server-address:http://localhost:${server.port:8080}}") String instance) {
		this.memory = memory;
		this.instance = instance;
	}

	@McpTool(name = "remember", description = "Stores a value under a key, in this session's memory.")
	public String remember(McpSyncRequestContext context, @McpToolParam(description = "the key") String key,
			@McpToolParam(description = "the value") String value) {
		SessionMemory.State state = state(context);
		state.values().put(key, value);
		return "remembered " + key;
	}

	@McpTool(name = "recall", description = "Returns the value stored under a key in this session, or an error.")
	public CallToolResult recall(McpSyncRequestContext context, @McpToolParam(description = "the key") String key) {
		String value = state(context).values().get(key);
		if (value == null) {
			return CallToolResult.builder().addTextContent("nothing remembered under " + key).isError(true).build();
		}
		return CallToolResult.builder().addTextContent(value).build();
	}

	@McpTool(name = "session_info",
			description = "Returns {sessionId, instance, calls}: the session, the instance serving it, and how many tool calls it made there.")
	public String sessionInfo(McpSyncRequestContext context) {
		long calls = state(context).calls();
		return "{\"sessionId\":\"" + context.sessionId() + "\",\"instance\":\"" + this.instance + "\",\"calls\":" + calls
				+ "}";
	}

	@McpTool(name = "countdown",
			description = "Counts down from 'from', one step every 'delayMs', with a progress notification and a log message per step.")
	public String countdown(McpSyncRequestContext context, @McpToolParam(description = "first number") int from,
			@McpToolParam(description = "milliseconds between steps") long delayMs) throws InterruptedException {
		state(context);
		for (int step = 1; step <= from; step++) {
			Thread.sleep(delayMs);
			int remaining = from - step;
			int done = step;
			context.progress((progress) -> progress.progress(done).total(from).message(remaining + " to go"));
			context.info("countdown " + remaining);
		}
		return "liftoff after " + from + " steps";
	}

	@McpTool(name = "ask_client", description = "Asks the client's model a question (sampling) and returns its answer.")
	public String askClient(McpSyncRequestContext context, @McpToolParam(description = "the question") String question) {
		state(context);
		McpSchema.CreateMessageResult answer = context.sample(question);
		return (answer.content() instanceof McpSchema.TextContent text) ? text.text() : String.valueOf(answer.content());
	}

	@McpTool(name = "confirm", description = "Asks the user to confirm a message (elicitation) and returns the decision.")
	public String confirm(McpSyncRequestContext context, @McpToolParam(description = "what to confirm") String message) {
		state(context);
		McpSchema.ElicitResult result = context.exchange()
			.createElicitation(McpSchema.ElicitFormRequest.builder(message,
					Map.of("type", "object", "properties", Map.of("confirmed", Map.of("type", "boolean"))))
				.build());
		Object confirmed = (result.content() != null) ? result.content().get("confirmed") : null;
		return result.action().name().toLowerCase() + ((confirmed != null) ? " confirmed=" + confirmed : "");
	}

	// Every tool call goes through here, so 'calls' counts them all.
	private SessionMemory.State state(McpSyncRequestContext context) {
		SessionMemory.State state = this.memory.of(context.sessionId());
		state.countCall();
		return state;
	}

}
