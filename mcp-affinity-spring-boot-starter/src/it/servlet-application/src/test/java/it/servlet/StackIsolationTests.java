package it.servlet;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ApplicationContext;
import org.springframework.util.ClassUtils;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A servlet MCP server with mcp-affinity's starter: affinity applies to Spring AI's MCP router on its own, and the
 * starter brought nothing of the other stack (no Netty server, no WebFlux).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = { "spring.ai.mcp.server.protocol=STREAMABLE",
				"mcp.affinity.local-server-address=http://127.0.0.1:8080" })
class StackIsolationTests {

	@Autowired
	private ApplicationContext context;

	@LocalServerPort
	private int port;

	@Test
	void theStarterBringsNothingOfTheOtherStack() {
		for (String type : new String[] { "reactor.netty.http.server.HttpServer", "org.springframework.boot.reactor.netty.NettyWebServer", "org.springframework.web.reactive.DispatcherHandler" }) {
			assertThat(ClassUtils.isPresent(type, null)).as(type).isFalse();
		}
	}

	@Test
	void affinityAppliesToSpringAisRouterOnItsOwn() throws Exception {
		assertThat(this.context.getBeanNamesForType(ClassUtils.forName("io.mcp.affinity.web.servlet.ServletSessionAffinity", null))).hasSize(1);
		// (The other stack's adapter cannot even load here: its stack is absent.)
		// A session no instance owns: mcp-affinity answers (its JSON-RPC error), not the MCP transport.
		HttpResponse<String> response = HttpClient.newHttpClient()
			.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + this.port + "/mcp"))
				.header("Content-Type", "application/json")
				.header("Accept", "application/json, text/event-stream")
				.header("Mcp-Session-Id", "no-such-session")
				.POST(HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"))
				.build(), HttpResponse.BodyHandlers.ofString());
		assertThat(response.statusCode()).isEqualTo(404);
		assertThat(response.body()).contains("\"code\":-32001");
	}

	@SpringBootApplication
	static class Application {

	}

}
