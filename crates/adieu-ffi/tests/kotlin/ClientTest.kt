// The Kotlin bindings of adieu-ffi against a real `adieu serve`, on the JVM (not Android).
// Run by .ci/ffi.sh: java -cp ... ClientTestKt SERVER_BINARY

import java.io.File
import java.net.HttpURLConnection
import java.net.URI
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import kotlinx.coroutines.runBlocking
import org.adieu.AdieuClient
import org.adieu.AdieuConfig
import org.adieu.LocalOnlyReason
import org.adieu.LogoutOutcome
import org.adieu.SecureStore

const val PASSWORD = "correct horse battery"

/** The SecureStore as files in a directory, replaced atomically. */
class FileStore(private val dir: File) : SecureStore {
    private fun file(key: String) = File(dir, "$key.json")

    override fun read(key: String): ByteArray? = file(key).takeIf { it.exists() }?.readBytes()

    override fun write(key: String, value: ByteArray) {
        val tmp = File(dir, "$key.tmp")
        tmp.outputStream().use { out ->
            out.write(value)
            out.fd.sync()
        }
        Files.move(tmp.toPath(), file(key).toPath(), StandardCopyOption.ATOMIC_MOVE)
    }

    override fun delete(key: String) {
        Files.deleteIfExists(file(key).toPath())
    }

    fun document(): String? = read("adieu.credentials")?.decodeToString()
}

/** One `adieu serve` on its own database, restartable on the same port. */
class Server(private val binary: String, dir: File) {
    private val database = "sqlite://${File(dir, "a.db")}"
    private var listen = "127.0.0.1:0"
    private var process: Process? = null
    lateinit var url: String

    fun start() {
        val p = ProcessBuilder(
            binary, "serve", "--listen", listen, "--database-url", database,
            "--argon2-memory-kib", "64", "--argon2-iterations", "1",
            "--login-attempts-per-ip", "0", "--login-attempts-per-user", "0",
            "--login-attempts-per-user-total", "0", "--registrations-per-ip", "0",
        ).redirectError(ProcessBuilder.Redirect.INHERIT).also { it.environment()["RUST_LOG"] = "error" }.start()
        val lines = p.inputStream.bufferedReader()
        while (true) {
            val line = lines.readLine() ?: error("adieu serve exited before listening")
            if (line.startsWith("adieu listening on ")) {
                url = line.removePrefix("adieu listening on ").trim().trimEnd('/')
                break
            }
        }
        Thread { lines.readText() }.apply { isDaemon = true }.start()
        listen = url.removePrefix("http://")
        process = p
    }

    fun stop() {
        process?.destroy()
        process?.waitFor()
    }

    fun meStatus(access: String): Int {
        val c = URI("$url/api/me").toURL().openConnection() as HttpURLConnection
        c.setRequestProperty("authorization", "Bearer $access")
        return c.responseCode
    }
}

fun client(url: String, store: SecureStore) =
    AdieuClient(AdieuConfig(serverUrl = url, requestTimeoutMs = 5000uL, connectTimeoutMs = 2000uL), store)

fun accessToken(document: String): String =
    Regex("\"access_token\":\"([^\"]+)\"").find(document)!!.groupValues[1]

fun check(condition: Boolean, what: String) {
    if (!condition) throw AssertionError(what)
}

fun loginAndLogout(server: Server, dir: File) = runBlocking {
    val store = FileStore(File(dir, "store1").apply { mkdirs() })
    val client = client(server.url, store)
    client.register("alice", PASSWORD)
    val session = client.login("alice", PASSWORD)
    check(client.me().sessionId == session.sessionId, "me() names this session")
    val access = accessToken(store.document()!!)
    check(client.logout() == LogoutOutcome.Revoked, "logout is Revoked")
    check(store.document() == null, "the store is empty")
    check(server.meStatus(access) == 401, "the server refuses the access token")
}

fun offlineLogoutAndRetry(server: Server, dir: File) = runBlocking {
    val store = FileStore(File(dir, "store2").apply { mkdirs() })
    val client = client(server.url, store)
    client.login("alice", PASSWORD)
    val access = accessToken(store.document()!!)
    server.stop()
    val outcome = client.logout()
    check(
        outcome == LogoutOutcome.LocalOnly(LocalOnlyReason.Network, retryPending = true),
        "offline logout is LocalOnly(Network), got $outcome",
    )
    check(!store.document()!!.contains("access_token"), "no usable credential is left")
    check(client.pendingRevocations() == 1u, "one revocation queued")
    server.start()
    check(server.meStatus(access) == 200, "the session is alive until the retry")
    check(client.retryPending() == 0u, "nothing left queued")
    check(store.document() == null, "the store is empty")
    check(server.meStatus(access) == 401, "the server refuses the access token")
}

fun main(args: Array<String>) {
    val dir = Files.createTempDirectory("adieu-kotlin").toFile()
    val server = Server(args[0], dir)
    server.start()
    val tests = listOf(
        "login, me and logout revoke the session" to { loginAndLogout(server, dir) },
        "an offline logout is LocalOnly and retryPending ends it" to { offlineLogoutAndRetry(server, dir) },
    )
    var failed = 0
    for ((name, test) in tests) {
        try {
            test()
            println("PASS $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
        }
    }
    server.stop()
    dir.deleteRecursively()
    println("kotlin (JVM, not Android): ${tests.size - failed} passed, $failed failed")
    kotlin.system.exitProcess(if (failed == 0) 0 else 1)
}
