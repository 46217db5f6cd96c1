package io.mcp.affinity.autoconfigure;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.web.ForwardSignature;
import io.mcp.affinity.web.SessionRouting;
import io.mcp.affinity.web.servlet.AbortableRequestFactory;
import io.mcp.affinity.web.servlet.ServletOwnerForwarder;
import io.mcp.affinity.web.servlet.ServletSessionAffinity;
import io.mcp.affinity.web.servlet.SessionForwardingServletFilter;
import io.mcp.affinity.web.servlet.StreamingProxyExchange;
import io.micrometer.observation.ObservationRegistry;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.DefaultHostnameVerifier;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.reactor.ssl.SSLBufferMode;
import org.apache.hc.core5.util.Timeout;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslOptions;
import org.springframework.boot.thread.Threading;
import org.springframework.boot.tomcat.ConfigurableTomcatWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.cloud.gateway.server.mvc.config.GatewayMvcProperties;
import org.springframework.cloud.gateway.server.mvc.handler.ProxyExchange;
import org.springframework.cloud.gateway.server.mvc.handler.RestClientProxyExchange;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;
import org.springframework.core.task.SimpleAsyncTaskExecutor;
import org.springframework.scheduling.concurrent.CustomizableThreadFactory;
import org.springframework.web.client.RestClient;
import org.springframework.web.servlet.function.RouterFunction;

/**
 * Auto-configuration of the servlet (Web MVC) request path: the {@link ServletSessionAffinity} router filter (the
 * servlet adapter of {@link SessionRouting}), the {@link ServletOwnerForwarder} built from Spring Cloud Gateway's Web
 * MVC server machinery, and the post-processor that applies the filter to Spring AI's Web MVC MCP router.
 * <p>
 * The forwarder has an Apache HttpClient 5 of its own: a connect timeout, no read timeout (it would end a forwarded SSE
 * stream), no redirects followed, no compression asked for, no retries. It is never a bean: the application's own HTTP
 * clients are left as they are.
 */
@AutoConfiguration(after = McpAffinityRoutingAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass({ RestClientProxyExchange.class, RouterFunction.class })
@ConditionalOnBooleanProperty(name = "mcp.affinity.enabled", matchIfMissing = true)
@ConditionalOnBean(SessionRouting.class)
public final class McpAffinityServletAutoConfiguration {

	/** Router beans of Spring AI's Web MVC MCP server starter: Streamable HTTP, and the legacy HTTP+SSE transport. */
	static final Set<String> MCP_ROUTER_BEAN_NAMES = Set.of("webMvcStreamableServerRouterFunction",
			"webMvcSseServerRouterFunction");

	/**
	 * The early forwarding filter's order when requests are traced: after the server observation filter
	 * ({@code HIGHEST_PRECEDENCE + 1}), so a forward has its server span.
	 */
	static final int TRACED_SESSION_FORWARDING_FILTER_ORDER = Ordered.HIGHEST_PRECEDENCE + 10;

	/**
	 * The early forwarding filter's order when nothing traces requests: ahead of the server observation filter too
	 * (the owner observes the request), with the character encoding filter, which only names the charset of a body
	 * this filter relays as bytes.
	 */
	static final int UNTRACED_SESSION_FORWARDING_FILTER_ORDER = Ordered.HIGHEST_PRECEDENCE;

	// Connections to the owners: each forwarded stream holds one for its lifetime.
	private static final int MAX_CONNECTIONS = 10_000;

	@Bean
	@ConditionalOnMissingBean
	ServletOwnerForwarder servletOwnerForwarder(InstanceIdentity mcpAffinityInstanceIdentity,
			SessionRouting mcpAffinitySessionRouting, McpAffinityProperties properties, Environment environment,
			ObjectProvider<ObservationRegistry> observationRegistry, ObjectProvider<SslBundles> sslBundles,
			ConfigurableListableBeanFactory beanFactory) {
		McpAffinityProperties.Forwarding forwarding = properties.getForwarding();
		CloseableHttpClient httpClient = httpClient(forwarding.getConnectTimeout(), McpAffinityRoutingAutoConfiguration
			.forwardingTls(forwarding, sslBundles.getIfAvailable(), McpAffinityServletAutoConfiguration::tlsStrategy));
		AbortableRequestFactory requestFactory = new AbortableRequestFactory(httpClient);
		GatewayMvcProperties gateway = Binder.get(environment)
			.bindOrCreate(GatewayMvcProperties.PREFIX, GatewayMvcProperties.class);
		ObservationRegistry registry = observationRegistry.getIfAvailable(() -> ObservationRegistry.NOOP);
		ProxyExchange proxy;
		if (!registry.isNoop() && TracingConditions.traced(beanFactory)) {
			// A client observation per forward, child of the server's: its propagation writes the trace headers, so
			// one trace spans both instances. It is the RestClient's.
			proxy = new RestClientProxyExchange(
					RestClient.builder().requestFactory(requestFactory).observationRegistry(registry).build(), gateway);
		}
		else {
			// Without a tracer the client observation would only time the forward again: the same exchange without
			// the RestClient around it, which cost about 3% of a forward's CPU.
			proxy = new StreamingProxyExchange(requestFactory, gateway);
		}
		String trusted = forwarding.getTrustedProxies();
		if (trusted == null) {
			trusted = environment.getProperty(GatewayMvcProperties.PREFIX + ".trusted-proxies", ".*");
		}
		Executor relay = relayExecutor(environment);
		ServletOwnerForwarder forwarder = new ServletOwnerForwarder(requestFactory, proxy, gateway, trusted,
				mcpAffinityInstanceIdentity, forwarding.getConnectTimeout(), forwarding.getResponseTimeout(), relay);
		ForwardSignature signature = mcpAffinitySessionRouting.getSignature();
		if (signature != null) {
			forwarder.setSignature(signature);
		}
		return forwarder;
	}

	@Bean
	@ConditionalOnBooleanProperty(name = "mcp.affinity.forwarding.check-own-certificate", matchIfMissing = true)
	OwnCertificateCheck mcpAffinityOwnCertificateCheck(InstanceIdentity mcpAffinityInstanceIdentity,
			McpAffinityProperties properties, ObjectProvider<SslBundles> sslBundles) {
		return McpAffinityRoutingAutoConfiguration.ownCertificateCheck(mcpAffinityInstanceIdentity,
				properties.getForwarding(), sslBundles.getIfAvailable(), true);
	}

	// Apache HttpClient 5 classic: the request thread does the I/O itself. The JDK client handed each forward between
	// its selector thread, its executor and the request thread, which the profile showed as most of a forward's CPU.
	// Built on the client's own builders, without its system properties (Spring Boot's builder reads them, for an
	// application's calls to the outside): the forwarder is one client of the owner on behalf of many callers, so it
	// keeps no cookie jar (it would send one caller's cookies, an HTTP session among them, with the next caller's
	// requests), answers no owner's challenge with the JVM's credentials, adds no User-Agent of its own, and goes
	// straight to the registered address, never through the JVM's proxy. No compression asked for or undone, no
	// redirects followed, no read timeout (it would end a quiet stream; the response timeout is the forwarder's own:
	// the client's sockets otherwise read with a timeout of 3 minutes, its library default, which cut off every
	// forwarded stream quiet that long), and a pool as large as the streams relayed at once (its default is 5
	// connections per owner). TLS to an owner takes the named SSL bundle (its version at the time each connection is
	// made), else the JVM's defaults (javax.net.ssl.*, https.protocols); the owner's host name (or IP address) is
	// verified against its certificate either way.
	private static CloseableHttpClient httpClient(Duration connectTimeout,
			@Nullable ForwardingTls<TlsSocketStrategy> tls) {
		PoolingHttpClientConnectionManagerBuilder builder = PoolingHttpClientConnectionManagerBuilder.create();
		if (tls != null) {
			builder.setTlsSocketStrategy((socket, target, port, attachment, context) -> tls.get()
				.upgrade(socket, target, port, attachment, context));
		}
		else {
			builder.useSystemProperties();
		}
		PoolingHttpClientConnectionManager pool = builder
			.setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(Timeout.of(connectTimeout)).build())
			.setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.DISABLED).build())
			.setMaxConnPerRoute(MAX_CONNECTIONS)
			.setMaxConnTotal(MAX_CONNECTIONS)
			.setConnectionFactory(AbortableRequestFactory.connectionFactory())
			.build();
		return HttpClientBuilder.create()
			.setConnectionManager(pool)
			.setRequestExecutor(AbortableRequestFactory.requestExecutor())
			.disableCookieManagement()
			.disableAuthCaching()
			.disableDefaultUserAgent()
			.disableContentCompression()
			.disableRedirectHandling()
			.disableAutomaticRetries()
			.build();
	}

	// The TLS of new connections to owners from a version of the forwarding bundle: its key and trust material, its
	// protocols and ciphers.
	private static TlsSocketStrategy tlsStrategy(SslBundle bundle) {
		SslOptions options = bundle.getOptions();
		return new DefaultClientTlsStrategy(bundle.createSslContext(), options.getEnabledProtocols(),
				options.getCiphers(), SSLBufferMode.STATIC, new DefaultHostnameVerifier());
	}

	// A thread per stream being relayed: virtual ones when the application runs on them, else pooled platform threads
	// (Spring AI answers most POSTs with a short SSE stream, so a thread per forward would be created and dropped per
	// request; pooled ones are reused, and the pool grows with the streams open at once).
	private static Executor relayExecutor(Environment environment) {
		if (Threading.VIRTUAL.isActive(environment)) {
			SimpleAsyncTaskExecutor virtual = new SimpleAsyncTaskExecutor("mcp-affinity-relay-");
			virtual.setVirtualThreads(true);
			return virtual;
		}
		CustomizableThreadFactory threads = new CustomizableThreadFactory("mcp-affinity-relay-");
		threads.setDaemon(true);
		return Executors.newCachedThreadPool(threads);
	}

	@Bean
	@ConditionalOnMissingBean
	ServletSessionAffinity servletSessionAffinity(SessionRouting mcpAffinitySessionRouting,
			ServletOwnerForwarder servletOwnerForwarder) {
		return new ServletSessionAffinity(mcpAffinitySessionRouting, servletOwnerForwarder);
	}

	/**
	 * Forwards ahead of the application's filters (the default): ahead of Spring Security's chain and of every filter
	 * ordered after it; when requests are traced, right after the server observation filter, else ahead of it too (as
	 * WebFlux forwards ahead of its web handler then).
	 */
	@Bean
	@ConditionalOnBooleanProperty(name = "mcp.affinity.forwarding.before-application-filters", matchIfMissing = true)
	FilterRegistrationBean<SessionForwardingServletFilter> mcpSessionForwardingServletFilter(
			ServletSessionAffinity servletSessionAffinity, ConfigurableListableBeanFactory beanFactory) {
		FilterRegistrationBean<SessionForwardingServletFilter> registration = new FilterRegistrationBean<>(
				new SessionForwardingServletFilter(servletSessionAffinity));
		registration.setOrder(TracingConditions.traced(beanFactory) ? TRACED_SESSION_FORWARDING_FILTER_ORDER
				: UNTRACED_SESSION_FORWARDING_FILTER_ORDER);
		return registration;
	}

	@Bean
	@ConditionalOnBooleanProperty(name = "mcp.affinity.apply-to-mcp-router", matchIfMissing = true)
	@SuppressWarnings("unchecked")
	static BeanPostProcessor mcpServletRouterSessionAffinityPostProcessor(
			ObjectProvider<ServletSessionAffinity> sessionAffinity) {
		return new McpRouterPostProcessor<>(MCP_ROUTER_BEAN_NAMES, RouterFunction.class,
				(router) -> sessionAffinity.getObject().applyTo(router));
	}

	/**
	 * On Tomcat, a client that stops sending its request body is cut off after
	 * {@code mcp.affinity.request-body-timeout}, as on WebFlux: a servlet read blocks, so the timeout is the
	 * connector's read timeout, unless {@code server.tomcat.connection-timeout} sets one.
	 */
	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass(ConfigurableTomcatWebServerFactory.class)
	static final class TomcatBodyTimeoutConfiguration {

		@Bean
		WebServerFactoryCustomizer<ConfigurableTomcatWebServerFactory> mcpAffinityBodyTimeoutCustomizer(
				McpAffinityProperties properties, Environment environment) {
			return (factory) -> {
				Duration timeout = properties.getRequestBodyTimeout();
				if (timeout != null && !environment.containsProperty("server.tomcat.connection-timeout")) {
					factory.addConnectorCustomizers((connector) -> connector.setProperty("connectionTimeout",
							String.valueOf(timeout.toMillis())));
				}
			};
		}

	}

}
