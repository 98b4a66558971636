// Linked statically (no ELF interpreter): the launcher must warn that
// huptime cannot keep its sockets.
int main() { return 0; }
