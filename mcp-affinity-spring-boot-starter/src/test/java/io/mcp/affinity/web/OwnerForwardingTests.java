package io.mcp.affinity.web;

import java.io.IOException;
import java.net.Authenticator;
import java.net.InetSocketAddress;
import java.net.PasswordAuthentication;
import java.net.ProxySelector;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import brave.handler.MutableSpan;
import brave.handler.SpanHandler;
import brave.propagation.TraceContext;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.OwnershipStoreUnavailableException;
import io.mcp.affinity.core.RoutedSessionId;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.memory.InMemoryOwnershipStore;
import io.mcp.affinity.core.test.OwnerCertificate;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.web.RecordingOwner.Received;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContextBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.WebFilter;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The request path of one real instance (Spring Boot, Reactor Netty, loopback) in front of a recording stand-in for
 * the owner: what is forwarded, what is kept, what is stripped, and that streams stay streams.
 */
class OwnerForwardingTests {

	private static final String SELF_EPOCH = "self-epoch";

	private static final String OWNER_EPOCH = "owner-epoch";

	private static final String ROUTED_OWNER_EPOCH = "1234567890123";

	private static final String SECRET = "forwarding-secret-for-tests";

	// Shorter than the default (60 s), to see it pass; longer than the connect timeout (2 s by default), which it
	// covers (start-up insists): an owner that accepts no connection must get its 503 before this deadline's 504.
	private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(4);

	// Spring Security is on the test class path for SessionBindingTests; these tests run without it.
	static final String NO_SECURITY = "spring.autoconfigure.exclude="
			+ "org.springframework.boot.security.autoconfigure.web.reactive.ReactiveWebSecurityAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.ReactiveUserDetailsServiceAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.actuate.web.reactive"
			+ ".ReactiveManagementWebSecurityAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.SecurityAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.UserDetailsServiceAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.web.servlet.SecurityFilterAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.web.servlet.ServletWebSecurityAutoConfiguration,"
			+ "org.springframework.boot.security.autoconfigure.actuate.web.servlet.ManagementWebSecurityAutoConfiguration";

	// Brave is on the test class path: with its auto-configurations, and the no-op tracer's, left out (each after a
	// comma, for alsoExcluded()), an instance has no tracer.
	static final String NO_TRACER = ","
			+ "org.springframework.boot.micrometer.tracing.brave.autoconfigure.BraveAutoConfiguration,"
			+ "org.springframework.boot.micrometer.tracing.autoconfigure.MicrometerTracingAutoConfiguration,"
			+ "org.springframework.boot.micrometer.tracing.autoconfigure.NoopTracerAutoConfiguration";

	// The TLS set-up of an https stand-in owner, as its certificate makes it.
	private static final Consumer<SslContextBuilder> AS_IS = (tls) -> {
	};

	// A header the application's own filter (below) answers with 401 when it says "closed".
	static final String GATE = "X-Test-Gate";

	private final ForwardSignature signature = new ForwardSignature(SECRET, null, Duration.ofSeconds(30),
			Clock.systemUTC());

	private final RecordingOwner owner = new RecordingOwner();

	private ConfigurableApplicationContext instance;

	private OwnershipStore store;

	private MapRegistry registry;

	// The test's client has its own connections and event loop: Reactor Netty's global ones belong to the instance
	// under test, which disposes of them when it stops.
	private final ConnectionProvider clientConnections = ConnectionProvider.create("test-client");

	private final LoopResources clientLoops = LoopResources.create("test-client", 1, true);

	private HttpClient client;

	@BeforeEach
	void start() {
		start(new String[0]);
	}

	// Starts the instance under test with these properties besides the tests' own.
	private void start(String... properties) {
		this.instance = instance()
			.properties("server.port=0", "server.address=127.0.0.1", "mcp.affinity.store=memory",
					"spring.main.banner-mode=off", "management.tracing.sampling.probability=1.0",
					"mcp.affinity.forwarding.secret=" + SECRET, "mcp.affinity.request-body-timeout=1s",
					"mcp.affinity.forwarding.response-timeout=" + RESPONSE_TIMEOUT.toSeconds() + "s",
					NO_SECURITY + alsoExcluded())
			.properties(properties)
			.run();
		this.store = this.instance.getBean(OwnershipStore.class);
		this.registry = this.instance.getBean(MapRegistry.class);
		this.registry.live.put(OWNER_EPOCH,
				new InstanceIdentity(URI.create("http://127.0.0.1:" + this.owner.port()), OWNER_EPOCH));
		int port = webServer().getPort();
		this.client = HttpClient.create(this.clientConnections)
			.runOn(this.clientLoops)
			.baseUrl("http://127.0.0.1:" + port)
			.responseTimeout(Duration.ofSeconds(10));
	}

	/**
	 * The instance under test, on WebFlux here: its MCP router a stand-in for the transport. A subclass runs every
	 * test on the other stack.
	 * @return the application, not yet started
	 */
	protected SpringApplicationBuilder instance() {
		return new SpringApplicationBuilder(InstanceConfiguration.class).web(WebApplicationType.REACTIVE);
	}

	/**
	 * Whether this stack forwards a request before the application's own filters run (the owner runs them instead).
	 * @return {@code true} on WebFlux
	 */
	protected boolean forwardsBeforeApplicationFilters() {
		return true;
	}

	/**
	 * More auto-configurations to leave out, each after a comma.
	 * @return none here
	 */
	protected String alsoExcluded() {
		return "";
	}

	/**
	 * Whether this instance has a tracer, so the forwarder's own spans are in the trace (the test class path has Brave).
	 * @return {@code true} here
	 */
	protected boolean tracesForwards() {
		return true;
	}

	/**
	 * Whether a forward is made before the server observation starts (straight on Reactor Netty, with no tracer), so
	 * that only the owner counts the request in {@code http.server.requests}.
	 * @return {@code false} here
	 */
	protected boolean forwardsBeforeServerObservation() {
		return false;
	}

	/**
	 * The server of the instance under test.
	 * @return the running web server
	 */
	protected final WebServer webServer() {
		return ((WebServerApplicationContext) this.instance).getWebServer();
	}

	@AfterEach
	void stop() {
		this.instance.close();
		this.owner.close();
		this.clientConnections.dispose();
		this.clientLoops.dispose();
	}

	// A sessionless POST: the stand-in transport mints a session, which this instance claims.
	private String createLocalSession() {
		return this.client.post()
			.uri("/mcp")
			.send(Mono.empty())
			.response()
			.map((res) -> res.responseHeaders().get("Mcp-Session-Id"))
			.block(Duration.ofSeconds(10));
	}

	// An id that names the stand-in owner (session-id ownership): no store entry; the registry alone places it.
	private String routedRemotely() {
		this.registry.live.put(ROUTED_OWNER_EPOCH,
				new InstanceIdentity(URI.create("http://127.0.0.1:" + this.owner.port()), ROUTED_OWNER_EPOCH));
		return RoutedSessionId.of(ROUTED_OWNER_EPOCH, "remote-" + System.nanoTime()).value();
	}

	// A new session owned by the live instance of that epoch, listening on that loopback port.
	private String ownedBy(int port, String epoch) {
		return ownedBy(URI.create("http://127.0.0.1:" + port), epoch);
	}

	// A new session owned by the live instance of that epoch, at that address.
	private String ownedBy(URI address, String epoch) {
		this.registry.live.put(epoch, new InstanceIdentity(address, epoch));
		String session = epoch + "-session-" + System.nanoTime();
		this.store.claim(SessionId.of(session), epoch).block();
		return session;
	}

	private String ownedRemotely() {
		String session = "remote-" + System.nanoTime();
		this.store.claim(SessionId.of(session), OWNER_EPOCH).block();
		return session;
	}

	@Test
	void postIsForwardedWithItsBodyQueryAndEndToEndHeadersAndWithoutHopByHopOnes() {
		String session = ownedRemotely();
		Response response = this.client
			.headers((headers) -> headers.set("Mcp-Session-Id", session)
				.set("MCP-Protocol-Version", "2025-06-18")
				.set("Authorization", "Bearer secret-token")
				.set("Content-Type", "application/json")
				.set("Accept", "application/json, text/event-stream")
				.set("Proxy-Authorization", "Basic hop")
				.set("Keep-Alive", "timeout=9")
				.set("TE", "trailers")
				.set("Connection", "keep-alive, X-Private-Hop")
				.set("X-Private-Hop", "drop-me"))
			.post()
			.uri("/mcp?trace=1")
			.send(Mono.just(io.netty.buffer.Unpooled.copiedBuffer("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
					StandardCharsets.UTF_8)))
			.responseSingle((res, body) -> body.asString().map((text) -> new Response(res.status().code(),
					res.responseHeaders().copy(), text)))
			.block(Duration.ofSeconds(10));

		assertThat(response.status()).isEqualTo(200);
		assertThat(response.body()).isEqualTo("{\"echo\":40}");
		assertThat(response.headers().get("X-Owner")).isEqualTo("yes");
		// (A server may add its own Keep-Alive, as Tomcat does: the owner's is what must not pass.)
		assertThat(response.headers().get("Keep-Alive")).as("hop-by-hop response header").isNotEqualTo("timeout=5");

		assertThat(this.owner.received).hasSize(1);
		Received forwarded = this.owner.received.get(0);
		assertThat(forwarded.uri()).isEqualTo("/mcp?trace=1");
		assertThat(forwarded.body()).isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
		HttpHeaders headers = forwarded.headers();
		assertThat(headers.get("Authorization")).isEqualTo("Bearer secret-token");
		assertThat(headers.get("Mcp-Session-Id")).isEqualTo(session);
		assertThat(headers.get("MCP-Protocol-Version")).isEqualTo("2025-06-18");
		assertThat(headers.get(McpHttpHeaders.FORWARDED_BY)).isEqualTo(SELF_EPOCH);
		assertThat(this.signature.rejection(headers.get(McpHttpHeaders.SIGNATURE), "POST", "/mcp?trace=1", session,
				SELF_EPOCH)).as("signature of the forward").isNull();
		assertThat(headers.get("X-Forwarded-For")).isEqualTo("127.0.0.1");
		assertThat(headers.get("X-Forwarded-Proto")).isEqualTo("http");
		assertThat(headers.contains("X-Forwarded-Host")).isTrue();
		assertThat(headers.contains("Proxy-Authorization")).isFalse();
		assertThat(headers.contains("Keep-Alive")).isFalse();
		assertThat(headers.contains("TE")).isFalse();
		assertThat(headers.contains("X-Private-Hop")).isFalse();
	}

	// The forwarder is one client of the owner on behalf of many: a cookie the owner sets is the caller's alone. A
	// client that kept a cookie jar would send one caller's HTTP session with the next caller's request.
	@Test
	void aCookieTheOwnerSetsReachesItsCallerAndNoOtherCallersForward() {
		String session = ownedRemotely();
		Response first = postAs(session, null);
		Response second = postAs(session, null);
		Response third = postAs(session, "OWNER_SESSION=the-callers-own");

		assertThat(first.headers().getAll("Set-Cookie")).containsExactly("OWNER_SESSION=answer-1; Path=/; HttpOnly");
		assertThat(second.headers().getAll("Set-Cookie")).containsExactly("OWNER_SESSION=answer-2; Path=/; HttpOnly");
		assertThat(third.status()).isEqualTo(200);
		assertThat(this.owner.received).hasSize(3);
		assertThat(this.owner.received.get(0).headers().contains("Cookie")).isFalse();
		assertThat(this.owner.received.get(1).headers().contains("Cookie")).as("the first caller's cookie").isFalse();
		assertThat(this.owner.received.get(2).headers().getAll("Cookie")).containsExactly("OWNER_SESSION=the-callers-own");
	}

	// The forward carries the caller's headers, not its client library's: no User-Agent of its own where the caller
	// sent none, so the owner's logs and rules see the caller.
	@Test
	void aRequestWithoutAUserAgentIsForwardedWithoutOne() throws IOException {
		String session = ownedRemotely();
		// Written by hand: the test's client sends a User-Agent of its own.
		try (java.net.Socket socket = new java.net.Socket("127.0.0.1", webServer().getPort())) {
			socket.setSoTimeout(10_000);
			socket.getOutputStream().write(("POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: " + session
					+ "\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
				.getBytes(StandardCharsets.ISO_8859_1));
			String statusLine = new java.io.BufferedReader(
					new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
			assertThat(statusLine).startsWith("HTTP/1.1 200");
		}
		assertThat(this.owner.received).hasSize(1);
		assertThat(this.owner.received.get(0).headers().get("User-Agent")).isNull();
	}

	// A JVM whose proxy selector names a proxy for every address (system properties, java.net.useSystemProxies, or the
	// application's own) still forwards straight to the owner: the address is a registered instance's, and a proxy on
	// the way would see every session id.
	@Test
	void aForwardGoesStraightToTheOwnerThoughTheJvmsProxySelectorNamesAProxy() throws IOException {
		ProxySelector jvms = ProxySelector.getDefault();
		try (SocketOwner proxy = new SocketOwner()) {
			ProxySelector.setDefault(ProxySelector.of(new InetSocketAddress("127.0.0.1", proxy.port())));
			try {
				// Started again, as an instance starts in a JVM set up that way.
				this.instance.close();
				start();
				Response response = postAs(ownedRemotely(), null);

				assertThat(response.status()).isEqualTo(200);
				assertThat(this.owner.received).hasSize(1);
				assertThat(proxy.firstReads).as("requests the proxy saw").isEmpty();
			}
			finally {
				ProxySelector.setDefault(jvms);
			}
		}
	}

	// An owner's challenge is the caller's to answer: the forwarder sends no credentials of its own, not even those
	// the JVM's authenticator hands out (an application's proxy credentials, say).
	@Test
	void anOwnersChallengeReachesTheCallerUnansweredThoughTheJvmHasCredentials() throws IOException {
		Authenticator jvms = Authenticator.getDefault();
		try (SocketOwner challenging = new SocketOwner(SocketOwner.Answer.CHALLENGE)) {
			Authenticator.setDefault(new Authenticator() {
				@Override
				protected PasswordAuthentication getPasswordAuthentication() {
					return new PasswordAuthentication("proxy-user", "proxy-password".toCharArray());
				}
			});
			try {
				String session = ownedBy(challenging.port(), "challenging-epoch");
				int status = this.client.headers((headers) -> headers.set("Mcp-Session-Id", session))
					.get()
					.uri("/mcp")
					.response()
					.map((res) -> res.status().code())
					.block(Duration.ofSeconds(10));

				assertThat(status).isEqualTo(401);
				assertThat(challenging.firstReads).as("requests the owner received").hasSize(1);
				assertThat(challenging.received).doesNotContainIgnoringCase("Authorization");
			}
			finally {
				Authenticator.setDefault(jvms);
			}
		}
	}

	// An owner that serves https with a private certificate authority's certificate for its IP address gets its
	// forwards through the SSL bundle mcp.affinity.forwarding.ssl-bundle names: one property on both stacks.
	@Test
	void anHttpsOwnerGetsItsForwardsThroughTheSslBundleTheForwardingNames(@TempDir Path certificates)
			throws InterruptedException {
		OwnerCertificate certificate = OwnerCertificate.create(certificates);
		try (RecordingOwner httpsOwner = new RecordingOwner(certificate, AS_IS)) {
			restart(trusting(certificate));
			String session = ownedBy(https(httpsOwner), "https-epoch");

			Response response = postAs(session, null);

			assertThat(response.status()).isEqualTo(200);
			assertThat(response.body()).isEqualTo("{\"echo\":2}");
			assertThat(httpsOwner.received).hasSize(1);
			assertThat(httpsOwner.received.get(0).headers().get("Mcp-Session-Id")).isEqualTo(session);
			// A stream, relayed event by event over TLS, and closed upstream when the client leaves.
			List<String> events = eventChunks(session).take(2).collectList().block(Duration.ofSeconds(10));
			assertThat(String.join("", events)).contains("event-0").contains("event-1");
			assertThat(httpsOwner.streamCancelled.await(5, TimeUnit.SECONDS)).isTrue();
		}
	}

	// An owner that asks for a client certificate (instances in mutual TLS) gets the one in the bundle's key store;
	// here the owner's own, which is all it trusts.
	@Test
	void anOwnerThatRequiresAClientCertificateGetsTheBundles(@TempDir Path certificates) {
		OwnerCertificate certificate = OwnerCertificate.create(certificates);
		try (RecordingOwner httpsOwner = new RecordingOwner(certificate,
				(tls) -> tls.clientAuth(ClientAuth.REQUIRE).trustManager(certificate.certificate().toFile()))) {
			restart("spring.ssl.bundle.jks.instances.keystore.location=file:" + certificate.keyStore(),
					"spring.ssl.bundle.jks.instances.keystore.password=" + OwnerCertificate.PASSWORD,
					"spring.ssl.bundle.jks.instances.keystore.type=PKCS12",
					"spring.ssl.bundle.jks.instances.truststore.location=file:" + certificate.keyStore(),
					"spring.ssl.bundle.jks.instances.truststore.password=" + OwnerCertificate.PASSWORD,
					"spring.ssl.bundle.jks.instances.truststore.type=PKCS12",
					"mcp.affinity.forwarding.ssl-bundle=instances");

			Response response = postAs(ownedBy(https(httpsOwner), "https-epoch"), null);

			assertThat(response.status()).isEqualTo(200);
			assertThat(httpsOwner.received).hasSize(1);
		}
	}

	// Without the bundle, the same owner's certificate is one the JVM's trust store does not know: the forward is
	// refused before a byte of the request is sent, the session stays the owner's, and the log names the property.
	@Test
	@ExtendWith(OutputCaptureExtension.class)
	void anHttpsOwnerWhoseCertificateNothingTrustsGetsNoForward(@TempDir Path certificates, CapturedOutput output) {
		OwnerCertificate certificate = OwnerCertificate.create(certificates);
		try (RecordingOwner httpsOwner = new RecordingOwner(certificate, AS_IS)) {
			String session = ownedBy(https(httpsOwner), "https-epoch");

			Response response = postAs(session, null);

			assertThat(response.status()).isEqualTo(502);
			assertThat(httpsOwner.received).isEmpty();
			assertThat(this.store.findOwner(SessionId.of(session)).block()).isEqualTo("https-epoch");
			assertThat(output).contains("TLS handshake failed").contains("mcp.affinity.forwarding.ssl-bundle");
		}
	}

	// A trusted certificate that names another host is refused: the forward verifies the owner's name (its registered
	// IP address here) against the certificate, as any https client does.
	@Test
	void anHttpsOwnerWhoseCertificateNamesAnotherHostGetsNoForward(@TempDir Path certificates) {
		OwnerCertificate certificate = OwnerCertificate.create(certificates, "dns:owner.example");
		try (RecordingOwner httpsOwner = new RecordingOwner(certificate, AS_IS)) {
			restart(trusting(certificate));

			Response response = postAs(ownedBy(https(httpsOwner), "https-epoch"), null);

			assertThat(response.status()).isEqualTo(502);
			assertThat(httpsOwner.received).isEmpty();
		}
	}

	// With the bundle named, it alone decides whom a forward trusts: not the gateway's insecure trust manager (WebFlux
	// would otherwise let it win over a bundle's trust), which the servlet stack never reads.
	@Test
	void theBundleAloneDecidesTrustThoughTheGatewayTrustsEveryCertificate(@TempDir Path certificates)
			throws IOException {
		OwnerCertificate certificate = OwnerCertificate.create(Files.createDirectory(certificates.resolve("owner")));
		OwnerCertificate another = OwnerCertificate.create(Files.createDirectory(certificates.resolve("another")));
		try (RecordingOwner httpsOwner = new RecordingOwner(certificate, AS_IS)) {
			restart(trusting(another,
					"spring.cloud.gateway.server.webflux.httpclient.ssl.use-insecure-trust-manager=true"));

			Response response = postAs(ownedBy(https(httpsOwner), "https-epoch"), null);

			assertThat(response.status()).isEqualTo(502);
			assertThat(httpsOwner.received).isEmpty();
		}
	}

	// The bundle's options apply: a bundle that enables TLS 1.2 alone cannot reach an owner that speaks TLS 1.3 alone.
	@Test
	void theBundlesProtocolsApplyToTheForward(@TempDir Path certificates) {
		OwnerCertificate certificate = OwnerCertificate.create(certificates);
		try (RecordingOwner httpsOwner = new RecordingOwner(certificate, (tls) -> tls.protocols("TLSv1.3"))) {
			restart(trusting(certificate, "spring.ssl.bundle.pem.instances.options.enabled-protocols=TLSv1.2"));

			Response response = postAs(ownedBy(https(httpsOwner), "https-epoch"), null);

			assertThat(response.status()).isEqualTo(502);
			assertThat(httpsOwner.received).isEmpty();
		}
	}

	// A bundle with reload-on-update follows its files (as a mounted Secret is renewed): once its trust store holds the
	// certificate of an owner it did not trust (a new certificate authority, say), new forwards to that owner go
	// through, with no restart; until then they are refused. Spring Boot takes a changed file up after its quiet period
	// (10 s by default).
	@Test
	@ExtendWith(OutputCaptureExtension.class)
	void aBundleRenewedOnDiskSecuresTheNextConnectionsWithoutARestart(@TempDir Path certificates,
			CapturedOutput output) throws IOException, InterruptedException {
		OwnerCertificate first = OwnerCertificate.create(Files.createDirectory(certificates.resolve("first")));
		OwnerCertificate second = OwnerCertificate.create(Files.createDirectory(certificates.resolve("second")));
		Path trusted = Files.createDirectory(certificates.resolve("bundle")).resolve("ca.pem");
		Files.copy(first.certificate(), trusted);
		try (RecordingOwner firstOwner = new RecordingOwner(first, AS_IS);
				RecordingOwner secondOwner = new RecordingOwner(second, AS_IS)) {
			restart("spring.ssl.bundle.pem.instances.truststore.certificate=file:" + trusted,
					"spring.ssl.bundle.pem.instances.reload-on-update=true",
					"mcp.affinity.forwarding.ssl-bundle=instances");
			String toSecond = ownedBy(https(secondOwner), "second-epoch");
			assertThat(postAs(ownedBy(https(firstOwner), "first-epoch"), null).status()).isEqualTo(200);
			assertThat(postAs(toSecond, null).status()).isEqualTo(502);

			Files.copy(second.certificate(), trusted, StandardCopyOption.REPLACE_EXISTING);

			int status = 502;
			long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
			while (status == 502 && System.nanoTime() < deadline) {
				Thread.sleep(200);
				status = postAs(toSecond, null).status();
			}
			assertThat(status).isEqualTo(200);
			assertThat(secondOwner.received).hasSize(1);
			assertThat(output).contains("ForwardingSslBundleUpdated bundle=instances");
		}
	}

	// Properties of a PEM bundle "instances" that trusts the certificate, named for forwarding, and more.
	private static String[] trusting(OwnerCertificate certificate, String... more) {
		List<String> properties = new ArrayList<>(List.of(
				"spring.ssl.bundle.pem.instances.truststore.certificate=file:" + certificate.certificate(),
				"mcp.affinity.forwarding.ssl-bundle=instances"));
		properties.addAll(List.of(more));
		return properties.toArray(String[]::new);
	}

	private static URI https(RecordingOwner owner) {
		return URI.create("https://127.0.0.1:" + owner.port());
	}

	// Stops the instance under test and starts it again with these properties besides the tests' own.
	private void restart(String... properties) {
		this.instance.close();
		start(properties);
	}

	@Test
	void anSslBundleNameNoBundleHasFailsStartUpNamingTheProperty() {
		assertThatThrownBy(() -> instance()
			.properties("server.port=0", "server.address=127.0.0.1", "mcp.affinity.store=memory",
					"spring.main.banner-mode=off", "mcp.affinity.forwarding.ssl-bundle=instances",
					NO_SECURITY + alsoExcluded())
			.run()).hasRootCauseInstanceOf(InvalidConfigurationPropertyValueException.class)
			.rootCause()
			.hasMessageContaining("mcp.affinity.forwarding.ssl-bundle")
			.hasMessageContaining("spring.ssl.bundle");
	}

	private Response postAs(String session, String cookie) {
		return this.client
			.headers((headers) -> {
				headers.set("Mcp-Session-Id", session).set("Content-Type", "application/json");
				if (cookie != null) {
					headers.set("Cookie", cookie);
				}
			})
			.post()
			.uri("/mcp")
			.send(Mono.just(io.netty.buffer.Unpooled.copiedBuffer("{}", StandardCharsets.UTF_8)))
			.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
					res.status().code(), res.responseHeaders().copy(), text)))
			.block(Duration.ofSeconds(10));
	}

	// The chunks of a session's GET stream that carry the stand-in owner's events, as they arrive.
	private Flux<String> eventChunks(String session) {
		return this.client.headers((headers) -> headers.set("Mcp-Session-Id", session)
			.set("Accept", "text/event-stream"))
			.get()
			.uri("/mcp")
			.responseContent()
			.asString()
			.filter((chunk) -> chunk.contains("event-"));
	}

	@Test
	void sseStreamIsRelayedEventByEventAndClosedUpstreamWhenTheClientLeaves() throws InterruptedException {
		String session = ownedRemotely();
		List<Long> arrivals = new CopyOnWriteArrayList<>();
		List<String> events = eventChunks(session).doOnNext((chunk) -> arrivals.add(System.nanoTime()))
			.take(3)
			.collectList()
			.block(Duration.ofSeconds(10));

		assertThat(String.join("", events)).as("received %s; owner saw %s", events, this.owner.received)
			.contains("event-0")
			.contains("event-1")
			.contains("event-2");
		assertThat(arrivals).hasSize(3);
		// Spaced like the owner sent them (300 ms), not delivered in one piece at the end.
		assertThat(Duration.ofNanos(arrivals.get(2) - arrivals.get(0))).isGreaterThan(Duration.ofMillis(400));
		// take(3) cancelled the client side: the upstream stream to the owner is closed too (on the servlet stack, where
		// a blocked write is the only sign of a client gone, at the owner's next event: MCP's keep-alive pings).
		assertThat(this.owner.streamCancelled.await(5, TimeUnit.SECONDS)).isTrue();
	}

	@Test
	void theForwardContinuesTheTraceOfTheIncomingRequest() {
		String session = ownedRemotely();
		String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
		String incoming = "00-" + traceId + "-00f067aa0ba902b7-01";
		post(session, Map.of("traceparent", incoming));
		// A GET too: on the servlet stack it is forwarded from a relay thread.
		this.client.headers((headers) -> headers.set("Mcp-Session-Id", session)
			.set("Accept", "text/event-stream")
			.set("traceparent", incoming))
			.get()
			.uri("/mcp")
			.responseContent()
			.asString()
			.take(1)
			.blockLast(Duration.ofSeconds(10));

		assertThat(this.owner.received).hasSize(2);
		for (Received received : this.owner.received) {
			String forwarded = received.headers().get("traceparent");
			assertThat(forwarded).as("traceparent of the %s at the owner", received.method())
				.isNotNull()
				.startsWith("00-" + traceId + "-");
			if (tracesForwards()) {
				// A span of this instance in between: same trace, another parent.
				assertThat(forwarded).isNotEqualTo(incoming);
			}
			else {
				// No tracer here: the client's trace context reaches the owner as it came, like through any proxy.
				assertThat(forwarded).isEqualTo(incoming);
			}
		}
	}

	@Test
	void theForwardTakesItsChosenPlaceRelativeToTheApplicationsOwnFilters() {
		// A local request meets the application's filter (it also teaches the instance its MCP endpoint).
		String local = createLocalSession();
		assertThat(post(local, Map.of(GATE, "closed")).status()).isEqualTo(401);
		assertThat(post(local, Map.of()).status()).isEqualTo(200);

		Response forwarded = post(ownedRemotely(), Map.of(GATE, "closed"));

		if (forwardsBeforeApplicationFilters()) {
			// Forwarded ahead of this instance's filters: the owner runs its own on the forward.
			assertThat(forwarded.status()).isEqualTo(200);
			assertThat(this.owner.received).hasSize(1);
			assertThat(this.owner.received.get(0).headers().get(GATE)).isEqualTo("closed");
		}
		else {
			assertThat(forwarded.status()).isEqualTo(401);
			assertThat(this.owner.received).isEmpty();
		}
	}

	@Test
	void aForwardIsObservedUnderItsMcpEndpointWhenItIsTraced() throws InterruptedException {
		createLocalSession();
		assertThat(post(ownedRemotely(), Map.of()).status()).isEqualTo(200);
		assertThat(this.owner.received).hasSize(1);

		MeterRegistry meters = this.instance.getBean(MeterRegistry.class);
		// A forward is a server observation of this instance like a local request, unless it is made before the server
		// observation (untraced, on Reactor Netty: the owner observes it) where only mcp.affinity.forwards times it.
		long expected = forwardsBeforeServerObservation() ? 1 : 2;
		long observed = 0;
		// The server observation stops as the response completes, a moment after the client has it.
		for (int i = 0; i < 50 && observed < expected; i++) {
			Thread.sleep(100);
			observed = postMcpObservations(meters);
		}
		Thread.sleep(200);
		assertThat(postMcpObservations(meters)).as("POST /mcp observations").isEqualTo(expected);
		assertThat(meters.find("mcp.affinity.forwards").tag("outcome", "success").timer().count()).isEqualTo(1);
	}

	private static long postMcpObservations(MeterRegistry meters) {
		return meters.find("http.server.requests")
			.tag("method", "POST")
			.tag("uri", "/mcp")
			.timers()
			.stream()
			.mapToLong(Timer::count)
			.sum();
	}

	@Test
	void aSessionHeaderOnAPathOutsideTheMcpRouterIsNeverForwarded() {
		createLocalSession();
		String session = ownedRemotely();

		Response elsewhere = post("/elsewhere", session, Map.of());

		assertThat(elsewhere.status()).isEqualTo(404);
		assertThat(this.owner.received).isEmpty();
		// The same session on the MCP endpoint is forwarded.
		assertThat(post(session, Map.of()).status()).isEqualTo(200);
		assertThat(this.owner.received).hasSize(1);
	}

	@Test
	void unreachableOwnerGets404AndItsEntryIsRemoved() {
		String session = ownedBy(TestRedis.freePort(), "dead-epoch");

		Response response = post(session, Map.of());

		assertThat(response.status()).isEqualTo(404);
		assertThat(response.body()).contains("Session not found");
		assertThat(this.store.findOwner(SessionId.of(session)).blockOptional()).isEmpty();
	}

	@Test
	void aForwardThatFailsEndsItsClientSpanWithTheError() throws InterruptedException {
		assumeTrue(tracesForwards(), "no tracer: no client span");
		String session = ownedBy(TestRedis.freePort(), "dead-epoch");

		assertThat(post(session, Map.of()).status()).isEqualTo(404);

		FinishedSpans finished = this.instance.getBean(FinishedSpans.class);
		MutableSpan failed = null;
		for (int i = 0; i < 50 && failed == null; i++) {
			failed = finished.spans.stream()
				.filter((span) -> span.kind() == brave.Span.Kind.CLIENT && span.error() != null)
				.findFirst()
				.orElse(null);
			Thread.sleep(100);
		}
		assertThat(failed).as("the forward's client span, ended with the error; finished: %s", finished.spans)
			.isNotNull();
	}

	@Test
	void anOwnerThatDoesNotAcceptAConnectionInTimeGets503AndKeepsItsSession() throws Exception {
		// A listener that never accepts, its queue filled: the kernel drops further connection attempts, as an
		// overloaded owner's would be, so connecting times out instead of being refused.
		try (java.net.ServerSocket busy = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
			List<java.net.Socket> queued = new java.util.ArrayList<>();
			for (int i = 0; i < 4; i++) {
				java.net.Socket socket = new java.net.Socket();
				try {
					socket.connect(busy.getLocalSocketAddress(), 200);
					queued.add(socket);
				}
				catch (java.io.IOException ex) {
					socket.close();
				}
			}
			String session = ownedBy(busy.getLocalPort(), "busy-epoch");

			Response response = post(session, Map.of());

			assertThat(response.status()).isEqualTo(503);
			assertThat(response.headers().get("Retry-After")).isEqualTo("1");
			assertThat(response.body()).contains("\"jsonrpc\":\"2.0\"").contains("not reachable in time");
			// Busy is not gone: the session is kept for when the owner answers again.
			assertThat(this.store.findOwner(SessionId.of(session)).block()).isEqualTo("busy-epoch");
			for (java.net.Socket socket : queued) {
				socket.close();
			}
		}
	}

	@Test
	void anOwnerThatDropsTheConnectionWithoutAnsweringGets503AndKeepsItsSession() throws Exception {
		// An owner that reads the request and closes the connection: no status line, no headers.
		try (java.net.ServerSocket dropping = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
			Thread acceptor = new Thread(() -> {
				while (!dropping.isClosed()) {
					try (java.net.Socket socket = dropping.accept()) {
						socket.getInputStream().read(new byte[8192]);
					}
					catch (java.io.IOException ex) {
						// closed: the test is over
					}
				}
			});
			acceptor.setDaemon(true);
			acceptor.start();
			String session = ownedBy(dropping.getLocalPort(), "dropping-epoch");

			Response response = post(session, Map.of());

			assertThat(response.status()).isEqualTo(503);
			assertThat(response.headers().get("Retry-After")).isEqualTo("1");
			assertThat(response.body()).contains("\"jsonrpc\":\"2.0\"").contains("not reachable in time");
			// Still listening: not gone, so the session is kept.
			assertThat(this.store.findOwner(SessionId.of(session)).block()).isEqualTo("dropping-epoch");
		}
	}

	@Test
	void anOwnerThatSendsNoHeadersInTimeGets504AndKeepsItsSession() throws Exception {
		try (SocketOwner silent = new SocketOwner(SocketOwner.Answer.NOTHING)) {
			String session = ownedBy(silent.port(), "silent-epoch");
			long start = System.nanoTime();

			Response response = post(session, Map.of("Content-Type", "application/json"));

			assertThat(response.status()).isEqualTo(504);
			assertThat(response.body()).contains("\"jsonrpc\":\"2.0\"").contains("did not answer in time");
			assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(RESPONSE_TIMEOUT);
			assertThat(silent.received).startsWith("POST /mcp HTTP/1.1");
			// The owner is there, only slow: its session stays.
			assertThat(this.store.findOwner(SessionId.of(session)).block()).isEqualTo("silent-epoch");
		}
	}

	@Test
	@ExtendWith(OutputCaptureExtension.class)
	void anOwnerWhoseAnswerIsNotHttpGets502AndKeepsItsSession(CapturedOutput output) throws Exception {
		try (SocketOwner garbling = new SocketOwner(SocketOwner.Answer.NOT_HTTP)) {
			String session = ownedBy(garbling.port(), "garbling-epoch");

			// The id in the query too, as the legacy transport sends it: the failure's report must not show it.
			Response response = post("/mcp?sessionId=" + session, session,
					Map.of("Content-Type", "application/json"));

			assertThat(response.status()).isEqualTo(502);
			assertThat(response.headers().get("Content-Type")).startsWith("application/json");
			assertThat(response.body()).contains("\"jsonrpc\":\"2.0\"").contains("Forwarding to the session owner failed");
			assertThat(garbling.received).startsWith("POST /mcp?sessionId=" + session + " HTTP/1.1");
			// The owner is there and may answer the next request: its session stays.
			assertThat(this.store.findOwner(SessionId.of(session)).block()).isEqualTo("garbling-epoch");
			assertThat(output).contains("ForwardFailed owner=http://127.0.0.1:" + garbling.port())
				.doesNotContain(session);
		}
	}

	@Test
	void aPoisonedEntryNeverMakesTheInstanceCallTheHostItNames() {
		// Entries record an owner epoch; whatever one says, only the registry's live instances are ever called.
		String session = "poisoned-" + System.nanoTime();
		this.store.claim(SessionId.of(session), "http://127.0.0.1:" + this.owner.port()).block();
		assertThat(post(session, Map.of()).status()).isEqualTo(404);
		assertThat(this.owner.received).isEmpty();
		assertThat(this.store.findOwner(SessionId.of(session)).blockOptional()).isEmpty();
	}

	@Test
	void requestAlreadyForwardedOnceIsNeverForwardedAgain() {
		for (String session : List.of(ownedRemotely(), routedRemotely())) {
			Response response = post(session, Map.of(McpHttpHeaders.FORWARDED_BY, "someone-else",
					McpHttpHeaders.SIGNATURE, this.signature.sign("POST", "/mcp", session, "someone-else")));
			assertThat(response.status()).as("answer for %s", session).isEqualTo(404);
		}
		assertThat(this.owner.received).isEmpty();
	}

	@Test
	void aRoutedIdIsForwardedAsTheClientSentItToTheOwnerItNamesWithNoStoreEntry() {
		String session = routedRemotely();
		Response response = post(session, Map.of());
		assertThat(response.status()).isEqualTo(200);
		assertThat(this.owner.received).hasSize(1);
		assertThat(this.owner.received.get(0).headers().get("Mcp-Session-Id")).isEqualTo(session);
		assertThat(this.store.findOwner(SessionId.of(session)).blockOptional()).isEmpty();
	}

	@Test
	void aRoutedIdOfAnOwnerThatRefusesGets404() {
		String epoch = "987654321";
		this.registry.live.put(epoch, new InstanceIdentity(URI.create("http://127.0.0.1:" + TestRedis.freePort()), epoch));
		Response response = post(RoutedSessionId.of(epoch, "gone-" + System.nanoTime()).value(), Map.of());
		assertThat(response.status()).isEqualTo(404);
		assertThat(response.body()).contains("Session not found");
	}

	@Test
	void requestThatOnlyClaimsToBeForwardedGets403AndIsNeitherHandledNorForwarded() {
		String local = createLocalSession();
		String remote = ownedRemotely();
		for (String session : List.of(local, remote, routedRemotely())) {
			Response unsigned = post(session, Map.of(McpHttpHeaders.FORWARDED_BY, "owner-epoch"));
			assertThat(unsigned.status()).isEqualTo(403);
			assertThat(unsigned.body()).contains("Forwarded request rejected");
			Response forged = post(session, Map.of(McpHttpHeaders.FORWARDED_BY, "owner-epoch", McpHttpHeaders.SIGNATURE,
					new ForwardSignature("not-the-shared-secret", null, Duration.ofSeconds(30), Clock.systemUTC())
						.sign("POST", "/mcp", session, "owner-epoch")));
			assertThat(forged.status()).isEqualTo(403);
		}
		assertThat(this.owner.received).isEmpty();
	}

	@Test
	void sessionlessRequestIsHandledLocallyAndSessionsItCreatesAreClaimedHere() {
		Response response = this.client.post()
			.uri("/mcp")
			.send(Mono.empty())
			.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
					res.status().code(), res.responseHeaders().copy(), text)))
			.block(Duration.ofSeconds(10));
		assertThat(response.body()).isEqualTo("local");
		String created = response.headers().get("Mcp-Session-Id");
		assertThat(this.store.findOwner(SessionId.of(created)).block()).isEqualTo(SELF_EPOCH);
		assertThat(post(created, Map.of()).body()).isEqualTo("local");
	}

	@Test
	void aDrainingInstanceClaimsNoNewSession() {
		this.instance.getBean(SessionRouting.class).startDraining();
		String created = createLocalSession();
		assertThat(created).isNotNull();
		assertThat(this.store.findOwner(SessionId.of(created)).blockOptional()).isEmpty();
	}

	@Test
	void acceptedDeleteEndsTheSessionHereEvenThoughTheHandlerWouldStillServeIt() {
		String created = createLocalSession();
		int deleted = this.client.headers((headers) -> headers.set("Mcp-Session-Id", created))
			.delete()
			.uri("/mcp")
			.response()
			.map((res) -> res.status().code())
			.block(Duration.ofSeconds(10));
		assertThat(deleted).isEqualTo(200);
		assertThat(post(created, Map.of()).status()).isEqualTo(404);
	}

	@Test
	void malformedSessionIdsGet400AndAreNeitherForwardedNorHandled() {
		for (String id : List.of("bad id", "tab\there", "x".repeat(SessionId.MAX_LENGTH + 1), "caf\u00e9")) {
			Response response = post(id, Map.of());
			assertThat(response.status()).as("status for %s", id).isEqualTo(400);
			assertThat(response.body()).isEqualTo(
					"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid session id\"}}");
		}
		assertThat(this.owner.received).isEmpty();
	}

	@Test
	void crOrLfInASessionHeaderIsRefusedBeforeAnythingReadsIt() throws Exception {
		int port = webServer().getPort();
		try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
			socket.setSoTimeout(5_000);
			socket.getOutputStream().write(("POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: abc\rdef\r\n"
					+ "Content-Length: 0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
			String statusLine = new java.io.BufferedReader(
					new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
			assertThat(statusLine).startsWith("HTTP/1.1 400");
		}
		assertThat(this.owner.received).isEmpty();
	}

	@Test
	void aClientThatStopsSendingItsBodyIsCutOffWith408LocallyAndOnTheWayToTheOwner() throws Exception {
		String local = createLocalSession();
		String remote = ownedRemotely();
		int port = webServer().getPort();
		for (String session : List.of(local, remote, routedRemotely())) {
			try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
				socket.setSoTimeout(10_000);
				long start = System.nanoTime();
				socket.getOutputStream().write(("POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: " + session
						+ "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":")
					.getBytes(StandardCharsets.ISO_8859_1));
				String statusLine = new java.io.BufferedReader(
						new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
				assertThat(statusLine).as("answer for %s", session).startsWith("HTTP/1.1 408");
				assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
			}
		}
	}

	@Test
	void aBodyStillArrivingReachesTheOwnerPartByPart() throws Exception {
		try (SocketOwner owner = new SocketOwner();
				java.net.Socket socket = new java.net.Socket("127.0.0.1", webServer().getPort())) {
			String session = ownedBy(owner.port(), "socket-epoch");
			String firstPart = "{\"jsonrpc\":\"2.0\",\"id\":7,";
			String lastPart = "\"method\":\"ping\"}";
			socket.setSoTimeout(10_000);
			socket.getOutputStream().write(("POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: " + session
					+ "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
					+ "Content-Length: " + (firstPart.length() + lastPart.length()) + "\r\n\r\n" + firstPart)
				.getBytes(StandardCharsets.ISO_8859_1));

			// The first part reaches the owner while the client still holds back the rest.
			long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
			while (!owner.received.endsWith(firstPart) && System.nanoTime() < deadline) {
				Thread.sleep(5);
			}
			assertThat(owner.received).as("received by the owner before the rest was sent").endsWith(firstPart);

			socket.getOutputStream().write(lastPart.getBytes(StandardCharsets.ISO_8859_1));
			String statusLine = new java.io.BufferedReader(
					new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
			assertThat(statusLine).startsWith("HTTP/1.1 200");
			assertThat(owner.received).endsWith(firstPart + lastPart);
		}
	}

	@Test
	void aBodyThatArrivedWholeLeavesWithItsRequestHeadersInOneWrite() throws Exception {
		try (SocketOwner owner = new SocketOwner()) {
			String session = ownedBy(owner.port(), "socket-epoch");
			String body = "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}";
			Response response = this.client
				.headers((headers) -> headers.set("Mcp-Session-Id", session)
					.set("Content-Type", "application/json")
					.set("Accept", "application/json, text/event-stream"))
				.post()
				.uri("/mcp")
				.send(Mono.just(io.netty.buffer.Unpooled.copiedBuffer(body, StandardCharsets.UTF_8)))
				.responseSingle((res, content) -> content.asString().map((text) -> new Response(
						res.status().code(), res.responseHeaders().copy(), text)))
				.block(Duration.ofSeconds(10));

			assertThat(response.status()).isEqualTo(200);
			assertThat(response.body()).isEqualTo("{}");
			// The owner, waiting in its first read, got headers and body together: one write, one read.
			String first = owner.firstReads.poll(10, TimeUnit.SECONDS);
			assertThat(first).startsWith("POST /mcp HTTP/1.1\r\n").endsWith("\r\n\r\n" + body);
		}
	}

	@Test
	void anAnswerThatArrivedWholeLeavesWithItsResponseHeadersInOneWrite() throws Exception {
		try (SocketOwner owner = new SocketOwner(SocketOwner.Answer.WHOLE_STREAM);
				java.net.Socket socket = new java.net.Socket("127.0.0.1", webServer().getPort())) {
			String session = ownedBy(owner.port(), "socket-epoch");
			postOverSocket(socket, session);

			// Blocked in this read before the forwarder writes: it returns what the first write carried.
			byte[] buffer = new byte[65536];
			int read = socket.getInputStream().read(buffer);
			String first = new String(buffer, 0, Math.max(read, 0), StandardCharsets.ISO_8859_1);
			// The end too: its length in the headers, the answer complete in this read.
			assertThat(first).startsWith("HTTP/1.1 200")
				.containsIgnoringCase("Content-Length: " + "data: all here\n\n".length())
				.endsWith("\r\n\r\ndata: all here\n\n");
		}
	}

	@Test
	void anEventLeavesAtOnceThoughTheNextIsYetToCome() throws Exception {
		// The owner's first event arrives with the line end that closes its chunk: read ahead, that alone must not be
		// taken for the next event having begun (the event would wait for it).
		try (SocketOwner owner = new SocketOwner(SocketOwner.Answer.EVENT_THEN_QUIET);
				java.net.Socket socket = new java.net.Socket("127.0.0.1", webServer().getPort())) {
			String session = ownedBy(owner.port(), "quiet-epoch");
			postOverSocket(socket, session);

			// The owner sends nothing more until it is told to: the first event must arrive before that.
			String received = readUntil(socket, "", "data: first\n\n");
			assertThat(received).startsWith("HTTP/1.1 200").doesNotContain("data: second");
			owner.speak();
			assertThat(readUntil(socket, received, "\r\n0\r\n\r\n")).contains("data: second\n\n");
		}
	}

	// A POST for the session written to the socket at once, the socket's reads given 10 s.
	private static void postOverSocket(java.net.Socket socket, String session) throws IOException {
		String body = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}";
		socket.setSoTimeout(10_000);
		socket.getOutputStream().write(("POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: " + session
				+ "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
				+ "Content-Length: " + body.length() + "\r\n\r\n" + body)
			.getBytes(StandardCharsets.ISO_8859_1));
	}

	// Reads the socket until what came contains the given text (or its read times out).
	private static String readUntil(java.net.Socket socket, String before, String text) throws IOException {
		StringBuilder received = new StringBuilder(before);
		byte[] buffer = new byte[65536];
		while (received.indexOf(text) < 0) {
			int read = socket.getInputStream().read(buffer);
			assertThat(read).as("the connection ended before %s arrived; received %s", text, received).isPositive();
			received.append(new String(buffer, 0, read, StandardCharsets.ISO_8859_1));
		}
		return received.toString();
	}

	@Test
	void aStreamWhoseEventsKeepComingArrivesWholeAndInOrder() throws Exception {
		// Longer than a servlet forward relays on the request thread: the stream changes threads in its middle.
		try (SocketOwner owner = new SocketOwner(SocketOwner.Answer.STEADY_STREAM)) {
			Response response = post(ownedBy(owner.port(), "steady-epoch"), Map.of());

			assertThat(response.status()).isEqualTo(200);
			StringBuilder expected = new StringBuilder();
			for (int i = 0; i < SocketOwner.STEADY_EVENTS; i++) {
				expected.append("data: event-").append(i).append("\n\n");
			}
			assertThat(response.body()).isEqualTo(expected.toString());
		}
	}

	@Test
	void pathLikeIdsAreJustUnknownSessions() {
		for (String id : List.of("../../etc/passwd", "/mcp?x=1", "%2e%2e%2f", "http://evil.example:80/")) {
			assertThat(post(id, Map.of()).status()).as("status for %s", id).isEqualTo(404);
			assertThat(this.store.findOwner(SessionId.of(id)).blockOptional()).isEmpty();
		}
		assertThat(this.owner.received).isEmpty();
	}

	@Test
	void headerAndQueryNamingDifferentSessionsGet400() {
		String session = ownedRemotely();
		Response response = post("/mcp?sessionId=other", session, Map.of());
		assertThat(response.status()).isEqualTo(400);
		assertThat(response.body()).contains("disagree");
		assertThat(this.owner.received).isEmpty();
	}

	@Test
	void spoofedForwardingHeadersDoNotSteerTheForward() {
		String session = ownedRemotely();
		Response response = post(session, Map.of("X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
				"X-Forwarded-Prefix", "/admin", "Forwarded", "host=evil.example;proto=https", "Host", "evil.example"));
		assertThat(response.status()).isEqualTo(200);
		assertThat(this.owner.received).hasSize(1);
		assertThat(this.owner.received.get(0).uri()).isEqualTo("/mcp");
		assertThat(this.owner.received.get(0).headers().get("Host")).isEqualTo("127.0.0.1:" + this.owner.port());
	}

	@Test
	void aBodyLargerThanTheCodecsAcceptGets413InsteadOfA500() {
		String created = createLocalSession();
		Response response = this.client.headers((headers) -> headers.set("Mcp-Session-Id", created))
			.post()
			.uri("/mcp")
			.send(Mono.just(io.netty.buffer.Unpooled.wrappedBuffer(new byte[300 * 1024])))
			.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
					res.status().code(), res.responseHeaders().copy(), text)))
			.block(Duration.ofSeconds(20));
		assertThat(response.status()).isEqualTo(413);
		assertThat(response.body()).contains("Request body too large");
	}

	@Test
	void aChunkedBodyLargerThanTheCodecsAcceptGets413LocallyAndOnTheWayToTheOwner() {
		for (String session : List.of(createLocalSession(), ownedRemotely())) {
			// Parts of 16 KiB with no Content-Length: sent chunked, so only counting can tell the size.
			Flux<io.netty.buffer.ByteBuf> parts = Flux.range(0, 20)
				.map((i) -> io.netty.buffer.Unpooled.wrappedBuffer(new byte[16 * 1024]));
			Response response = this.client.headers((headers) -> headers.set("Mcp-Session-Id", session))
				.post()
				.uri("/mcp")
				.send(parts)
				.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
						res.status().code(), res.responseHeaders().copy(), text)))
				.block(Duration.ofSeconds(20));
			assertThat(response.status()).as("status for %s", session).isEqualTo(413);
			assertThat(response.body()).contains("\"jsonrpc\":\"2.0\"").contains("Request body too large");
		}
	}

	@Test
	void aNewSessionWhoseClaimFailsIsNeverHandedOutAndTheClientIsAskedToRetry() {
		((ClaimFailingStore) this.store).failClaims = true;
		for (String uri : List.of("/mcp", "/sse")) {
			Response refused = (uri.equals("/mcp") ? this.client.post().uri(uri).send(Mono.empty())
					: this.client.get().uri(uri))
				.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
						res.status().code(), res.responseHeaders().copy(), text)))
				.block(Duration.ofSeconds(10));
			assertThat(refused.status()).as("status for %s", uri).isEqualTo(503);
			assertThat(refused.headers().get("Retry-After")).isEqualTo("1");
			assertThat(refused.headers().get("Mcp-Session-Id")).isNull();
			assertThat(refused.body()).contains("\"jsonrpc\":\"2.0\"").doesNotContain("sessionId=");
		}

		((ClaimFailingStore) this.store).failClaims = false;
		String created = createLocalSession();
		assertThat(created).isNotNull();
		assertThat(this.store.findOwner(SessionId.of(created)).block()).isEqualTo(SELF_EPOCH);
	}

	@Test
	void aLegacyStreamRefusedForWantOfAClaimEndsItsExchange() throws Exception {
		((ClaimFailingStore) this.store).failClaims = true;
		byte[] request = "GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
			.getBytes(StandardCharsets.ISO_8859_1);
		try (java.net.Socket socket = new java.net.Socket("127.0.0.1", webServer().getPort())) {
			socket.setSoTimeout(10_000);
			java.io.InputStream in = new java.io.BufferedInputStream(socket.getInputStream());
			socket.getOutputStream().write(request);
			String answer = readResponse(in);

			assertThat(answer).startsWith("HTTP/1.1 503");
			// Ended, the exchange frees its connection: closed as announced (Tomcat closes after a 503), or ready for
			// the next request. One held open does neither, and this read times out.
			if (answer.toLowerCase(java.util.Locale.ROOT).contains("\nconnection: close")) {
				assertThat(in.read()).as("the connection closed after the answer").isEqualTo(-1);
			}
			else {
				socket.getOutputStream().write(request);
				assertThat(readResponse(in)).as("the next request on the connection").startsWith("HTTP/1.1 503");
			}
		}
	}

	// One response with a declared length, read off the connection: its status line and headers.
	private static String readResponse(java.io.InputStream in) throws java.io.IOException {
		StringBuilder head = new StringBuilder(readLine(in));
		long length = -1;
		for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
			head.append('\n').append(line);
			if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
				length = Long.parseLong(line.substring("content-length:".length()).trim());
			}
		}
		assertThat(length).as("declared length of the answer %s", head).isNotNegative();
		assertThat(in.readNBytes((int) length)).hasSize((int) length);
		return head.toString();
	}

	private static String readLine(java.io.InputStream in) throws java.io.IOException {
		StringBuilder line = new StringBuilder();
		for (int b = in.read(); b != '\n'; b = in.read()) {
			if (b < 0) {
				throw new java.io.EOFException("connection closed after \"" + line + "\"");
			}
			if (b != '\r') {
				line.append((char) b);
			}
		}
		return line.toString();
	}

	@Test
	void aHugeBodyIsRefusedWithoutBeingRead() {
		byte[] huge = new byte[32 * 1024 * 1024];
		Response response = this.client.headers((headers) -> headers.set("Mcp-Session-Id", "unknown-session"))
			.post()
			.uri("/mcp")
			.send(Mono.just(io.netty.buffer.Unpooled.wrappedBuffer(huge)))
			.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
					res.status().code(), res.responseHeaders().copy(), text)))
			.onErrorResume((ex) -> Mono.just(new Response(-1, null, ex.toString())))
			.block(Duration.ofSeconds(20));
		// Either the answer (413: too large) arrives, or the server closes the connection on the unread body.
		assertThat(response.status()).as(response.body()).isIn(413, -1);
		if (response.status() == -1) {
			assertThat(response.body()).doesNotContain("500");
		}
		assertThat(this.owner.received).isEmpty();
	}

	private Response post(String session, Map<String, String> extraHeaders) {
		return post("/mcp", session, extraHeaders);
	}

	private Response post(String uri, String session, Map<String, String> extraHeaders) {
		return this.client.headers((headers) -> {
			headers.set("Mcp-Session-Id", session);
			extraHeaders.forEach(headers::set);
		})
			.post()
			.uri(uri)
			.send(Mono.empty())
			.responseSingle((res, body) -> body.asString().defaultIfEmpty("").map((text) -> new Response(
					res.status().code(), res.responseHeaders().copy(), text)))
			.block(Duration.ofSeconds(10));
	}

	record Response(int status, HttpHeaders headers, String body) {
	}

	/** An in-memory store whose claims the test can make fail, as a store that does not answer in time fails them. */
	static final class ClaimFailingStore implements OwnershipStore {

		private final InMemoryOwnershipStore delegate = new InMemoryOwnershipStore();

		volatile boolean failClaims;

		@Override
		public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
			return this.failClaims ? Mono.error(new OwnershipStoreUnavailableException("claim timed out", null))
					: this.delegate.claim(sessionId, ownerEpoch);
		}

		@Override
		public Mono<String> findOwner(SessionId sessionId) {
			return this.delegate.findOwner(sessionId);
		}

		@Override
		public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
			return this.delegate.refresh(sessionId, ownerEpoch);
		}

		@Override
		public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
			return this.delegate.release(sessionId, ownerEpoch);
		}

	}

	/** A registry whose live instances the test sets. */
	static final class MapRegistry implements InstanceRegistry {

		final Map<String, InstanceIdentity> live = new ConcurrentHashMap<>();

		@Override
		public Mono<Boolean> heartbeat(InstanceIdentity self) {
			this.live.put(self.epoch(), self);
			return Mono.just(false);
		}

		@Override
		public Mono<InstanceIdentity> findLive(String epoch) {
			return Mono.justOrEmpty(this.live.get(epoch));
		}

		@Override
		public Flux<InstanceIdentity> liveInstances() {
			return Flux.fromIterable(this.live.values());
		}

		@Override
		public Mono<Void> deregister(InstanceIdentity self) {
			return Mono.fromRunnable(() -> this.live.remove(self.epoch()));
		}

	}

	@Configuration(proxyBeanMethods = false)
	@EnableAutoConfiguration
	@Import(SharedBeans.class)
	static class InstanceConfiguration {

		// Stands in for the MCP transport: mints a session on a sessionless POST, and (like Spring AI 2.0's WebFlux
		// transport) keeps answering a session after accepting its DELETE.
		@Bean
		RouterFunction<ServerResponse> webFluxStreamableServerRouterFunction() {
			return RouterFunctions.route()
				.POST("/mcp", (request) -> request.headers().firstHeader("Mcp-Session-Id") == null
						? ServerResponse.ok().header("Mcp-Session-Id", "new-" + System.nanoTime()).bodyValue("local")
						: request.bodyToMono(String.class).defaultIfEmpty("").flatMap((body) -> ServerResponse.ok()
							.bodyValue("local")))
				.GET("/mcp", (request) -> ServerResponse.ok().bodyValue("local stream"))
				// The legacy HTTP+SSE transport: the stream's first event announces the session.
				.GET("/sse", (request) -> ServerResponse.ok()
					.contentType(org.springframework.http.MediaType.TEXT_EVENT_STREAM)
					.body(Flux.just(ServerSentEvent.builder("/mcp/message?sessionId=legacy-" + System.nanoTime())
						.event("endpoint")
						.build()), ServerSentEvent.class))
				.DELETE("/mcp", (request) -> ServerResponse.ok().build())
				.build();
		}

		// The application's own filter, as Spring Security's would be: it turns away requests whose gate is closed.
		@Bean
		WebFilter gateFilter() {
			return (exchange, chain) -> {
				if ("closed".equals(exchange.getRequest().getHeaders().getFirst(GATE))) {
					exchange.getResponse().setStatusCode(org.springframework.http.HttpStatus.UNAUTHORIZED);
					return exchange.getResponse().setComplete();
				}
				return chain.filter(exchange);
			};
		}

	}

	/** What the instance under test has on either stack: its identity, the store, the registry. */
	@Configuration(proxyBeanMethods = false)
	static class SharedBeans {

		@Bean
		InstanceIdentity instanceIdentity() {
			return new InstanceIdentity(URI.create("http://127.0.0.1:1"), SELF_EPOCH);
		}

		@Bean
		ClaimFailingStore ownershipStore() {
			return new ClaimFailingStore();
		}

		@Bean
		MapRegistry instanceRegistry() {
			return new MapRegistry();
		}

		@Bean
		FinishedSpans finishedSpans() {
			return new FinishedSpans();
		}

	}

	/** The spans the instance under test has finished, as its tracer reports them. */
	static final class FinishedSpans extends SpanHandler {

		final List<MutableSpan> spans = new CopyOnWriteArrayList<>();

		@Override
		public boolean end(TraceContext context, MutableSpan span, Cause cause) {
			this.spans.add(span);
			return true;
		}

	}

}
