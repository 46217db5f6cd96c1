package io.mcp.affinity.autoconfigure;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.regex.Pattern;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslOptions;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationListener;

/**
 * Checks, once the web server has started, that this instance's own certificate passes the TLS the instances forward
 * with, when it registers an {@code https} address: the same trust material (the forwarding SSL bundle, else the
 * JVM's), the same host name verification against the registered host, the bundle's client certificate presented.
 * The other instances, configured alike, forward to this one that way: a certificate they cannot accept would get
 * every forward to its sessions a 502 once it takes traffic. Start-up fails instead, naming the property and the fix,
 * so a rolling update with a wrong certificate or bundle stops at its first instance.
 * <p>
 * The check connects to the registered port on loopback (or on the registered IP address), verifying the registered
 * host name, and sends one {@code OPTIONS *} request, so that an owner that refuses the client certificate after the
 * handshake (TLS 1.3) is seen too. Only a TLS failure fails start-up: nothing listening there yet (a TLS sidecar that
 * starts later, a server bound to another interface) or no answer in time leaves a log line and start-up goes on.
 */
final class OwnCertificateCheck implements ApplicationListener<WebServerInitializedEvent> {

	private static final Logger logger = LoggerFactory.getLogger(OwnCertificateCheck.class);

	private static final String ADDRESS_PROPERTY = "mcp.affinity.local-server-address";

	private static final String SSL_BUNDLE_PROPERTY = "mcp.affinity.forwarding.ssl-bundle";

	// As the gateway's default TLS handshake timeout: on loopback a handshake takes milliseconds, a cold JVM's first
	// one a few hundred.
	private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

	private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

	private final @Nullable URI address;

	private final @Nullable String bundleName;

	private final @Nullable SslBundle bundle;

	private final Duration connectTimeout;

	/**
	 * Creates the check.
	 * @param address the address this instance registers, or {@code null} when forwards take TLS settings this check
	 * does not follow (the gateway's own, on WebFlux without a forwarding bundle)
	 * @param bundleName the forwarding SSL bundle's name, or {@code null} when forwards take the JVM's TLS defaults
	 * @param bundle that bundle, or {@code null}
	 * @param connectTimeout how long to wait for the connection, as a forward does
	 */
	OwnCertificateCheck(@Nullable URI address, @Nullable String bundleName, @Nullable SslBundle bundle, Duration connectTimeout) {
		this.address = address;
		this.bundleName = bundleName;
		this.bundle = bundle;
		this.connectTimeout = connectTimeout;
	}

	@Override
	public void onApplicationEvent(WebServerInitializedEvent event) {
		// The application's own server, not the Actuator's on a port of its own (whose events reach this context too).
		if (event.getApplicationContext().getServerNamespace() == null) {
			check();
		}
	}

	/**
	 * Runs the check.
	 * @throws InvalidConfigurationPropertyValueException when this instance's certificate fails the forwarding TLS
	 */
	void check() {
		URI address = this.address;
		if (address == null || !"https".equalsIgnoreCase(address.getScheme())) {
			return;
		}
		String host = address.getHost();
		// An IP address is connected to as it is (the certificate must name it); a host name is looked for on
		// loopback, as the name may not resolve to this instance yet (a headless Service publishes a ready pod).
		boolean ipAddress = host.startsWith("[") || IPV4.matcher(host).matches();
		String peer = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
		int port = address.getPort();
		SSLContext context = sslContext();
		Socket plain = new Socket();
		try {
			InetAddress target = ipAddress ? InetAddress.getByName(peer) : InetAddress.getLoopbackAddress();
			plain.connect(new InetSocketAddress(target, port), Math.toIntExact(this.connectTimeout.toMillis()));
		}
		catch (IOException ex) {
			close(plain);
			logger.info("OwnCertificateNotChecked address={}: nothing accepted a connection at port {} of {} ({}), "
					+ "so this instance's certificate was not checked against the forwarding TLS", address, port,
					ipAddress ? peer : "loopback", ex.toString());
			return;
		}
		try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(plain, peer, port, true)) {
			socket.setSoTimeout(Math.toIntExact(HANDSHAKE_TIMEOUT.toMillis()));
			SSLParameters parameters = socket.getSSLParameters();
			parameters.setEndpointIdentificationAlgorithm("HTTPS");
			if (this.bundle != null) {
				SslOptions options = this.bundle.getOptions();
				if (options.getEnabledProtocols() != null) {
					parameters.setProtocols(options.getEnabledProtocols());
				}
				if (options.getCiphers() != null) {
					parameters.setCipherSuites(options.getCiphers());
				}
			}
			socket.setSSLParameters(parameters);
			socket.startHandshake();
			// With TLS 1.3 a server refuses a client certificate after the client's side of the handshake is done:
			// that refusal arrives as the answer to a first request.
			OutputStream out = socket.getOutputStream();
			out.write(("OPTIONS * HTTP/1.1\r\nHost: " + address.getRawAuthority() + "\r\nConnection: close\r\n\r\n")
				.getBytes(StandardCharsets.US_ASCII));
			out.flush();
			socket.getInputStream().read();
			logger.debug("OwnCertificateChecked address={}: the forwarding TLS accepts it", address);
		}
		catch (SSLException ex) {
			throw failed(address, ex);
		}
		catch (IOException ex) {
			logger.warn("OwnCertificateNotChecked address={}: no answer over TLS ({}), so this instance's certificate "
					+ "was not checked against the forwarding TLS", address, ex.toString());
		}
	}

	private SSLContext sslContext() {
		if (this.bundle != null) {
			return this.bundle.createSslContext();
		}
		try {
			return SSLContext.getDefault();
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException(ex);
		}
	}

	private InvalidConfigurationPropertyValueException failed(URI address, SSLException ex) {
		String seen = "This instance registers " + address + " (" + ADDRESS_PROPERTY + "), but a TLS connection "
				+ "to it as the other instances make one failed: " + ex.getMessage() + ". Every request forwarded to "
				+ "its sessions would be answered 502. ";
		if (this.bundleName != null) {
			return new InvalidConfigurationPropertyValueException(SSL_BUNDLE_PROPERTY, this.bundleName, seen
					+ "Put the certificate authority of the instances' certificates in this bundle's truststore (and, "
					+ "if the instances ask for client certificates, a certificate they trust in its key store), "
					+ "and give each instance a certificate that names the host of its " + ADDRESS_PROPERTY + ".");
		}
		return new InvalidConfigurationPropertyValueException(ADDRESS_PROPERTY, address, seen
				+ "Forwards take the JVM's TLS defaults here: name an SSL bundle whose truststore holds the certificate "
				+ "authority of the instances' certificates in " + SSL_BUNDLE_PROPERTY + ", give each instance a "
				+ "certificate that names the host of its " + ADDRESS_PROPERTY + ", or register an http address.");
	}

	private static void close(Socket socket) {
		try {
			socket.close();
		}
		catch (IOException ex) {
			// Never connected: nothing to release.
		}
	}

}
