package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.core.userdetails.MapReactiveUserDetailsService;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With Spring Security, a session created by one user answers only that user (the MCP specification's advice against
 * session hijacking): another user presenting the same session id gets 404.
 */
class SessionBindingTests {

	private ConfigurableApplicationContext instance;

	// The test's client has its own connections and event loop: Reactor Netty's global ones belong to the instance
	// under test, which disposes of them when it stops.
	private final ConnectionProvider clientConnections = ConnectionProvider.create("test-client");

	private final LoopResources clientLoops = LoopResources.create("test-client", 1, true);

	private HttpClient client;

	private void start(String... properties) {
		this.instance = instance()
			.properties("server.port=0", "server.address=127.0.0.1", "mcp.affinity.store=memory",
					"spring.main.banner-mode=off")
			.properties(properties)
			.run();
		int port = ((WebServerApplicationContext) this.instance).getWebServer().getPort();
		this.client = HttpClient.create(this.clientConnections)
			.runOn(this.clientLoops)
			.baseUrl("http://127.0.0.1:" + port)
			.responseTimeout(Duration.ofSeconds(10));
	}

	/**
	 * The instance under test: WebFlux with Spring Security's reactive side here; a subclass runs the tests on the
	 * servlet stack.
	 * @return the application, not yet started
	 */
	protected SpringApplicationBuilder instance() {
		return new SpringApplicationBuilder(SecuredInstance.class).web(WebApplicationType.REACTIVE);
	}

	@AfterEach
	void stop() {
		this.instance.close();
		this.clientConnections.dispose();
		this.clientLoops.dispose();
	}

	private static String basic(String user) {
		return "Basic " + Base64.getEncoder().encodeToString((user + ":" + user + "-password").getBytes(StandardCharsets.UTF_8));
	}

	private String create(String user) {
		return this.client.headers((headers) -> headers.set("Authorization", basic(user)))
			.post()
			.uri("/mcp")
			.send(Mono.empty())
			.response()
			.map((res) -> res.responseHeaders().get("Mcp-Session-Id"))
			.block(Duration.ofSeconds(10));
	}

	private int use(String user, String session) {
		return this.client.headers((headers) -> {
			headers.set("Mcp-Session-Id", session);
			if (user != null) {
				headers.set("Authorization", basic(user));
			}
		})
			.post()
			.uri("/mcp")
			.send(Mono.empty())
			.response()
			.map((res) -> res.status().code())
			.block(Duration.ofSeconds(10));
	}

	@Test
	void aSessionAnswersOnlyThePrincipalThatCreatedIt() {
		start();
		String session = create("alice");
		assertThat(use("alice", session)).isEqualTo(200);
		assertThat(use("bob", session)).isEqualTo(404);
		assertThat(use(null, session)).isEqualTo(401);
		assertThat(use("alice", session)).isEqualTo(200);
	}

	@Test
	void aSessionAnswersOnlyThePrincipalThatCreatedItInSessionIdOwnershipToo() {
		start("mcp.affinity.ownership=session-id");
		String session = create("alice");
		assertThat(session).startsWith("~").contains("~s-");
		assertThat(use("alice", session)).isEqualTo(200);
		assertThat(use("bob", session)).isEqualTo(404);
		assertThat(use(null, session)).isEqualTo(401);
		// The handler sees the id it minted, never the routed one.
		String seen = this.client.headers((headers) -> {
			headers.set("Mcp-Session-Id", session);
			headers.set("Authorization", basic("alice"));
		}).post().uri("/mcp").send(Mono.empty()).responseContent().aggregate().asString().block(Duration.ofSeconds(10));
		assertThat(seen).isEqualTo("local " + session.substring(session.indexOf("~s-") + 1));
	}

	@Test
	void bindingCanBeSwitchedOff() {
		start("mcp.affinity.bind-sessions-to-principal=false");
		String session = create("alice");
		assertThat(use("bob", session)).isEqualTo(200);
	}

	@Configuration(proxyBeanMethods = false)
	@EnableAutoConfiguration
	static class SecuredInstance {

		@Bean
		SecurityWebFilterChain security(ServerHttpSecurity http) {
			return http.authorizeExchange((exchanges) -> exchanges.anyExchange().authenticated())
				.httpBasic(Customizer.withDefaults())
				.csrf(ServerHttpSecurity.CsrfSpec::disable)
				.build();
		}

		@Bean
		MapReactiveUserDetailsService users() {
			return new MapReactiveUserDetailsService(
					User.withUsername("alice").password("{noop}alice-password").roles("USER").build(),
					User.withUsername("bob").password("{noop}bob-password").roles("USER").build());
		}

		@Bean
		RouterFunction<ServerResponse> webFluxStreamableServerRouterFunction() {
			return RouterFunctions.route()
				.POST("/mcp", (request) -> request.headers().firstHeader("Mcp-Session-Id") == null
						? ServerResponse.ok().header("Mcp-Session-Id", "s-" + System.nanoTime()).bodyValue("local")
						: ServerResponse.ok().bodyValue("local " + request.headers().firstHeader("Mcp-Session-Id")))
				.build();
		}

	}

}
