//go:build !linux

package execve

// Outside Linux envinit can build an environment but cannot run COMMAND:
// every function that needs the kernel returns ErrUnsupported.

// Dir is the directory for sensitive values; Linux only.
type Dir struct{}

// Batch is a set of staged files; Linux only.
type Batch struct{}

func OpenSecretsDir(explicit string, u *User) (*Dir, error) { return nil, ErrUnsupported }
func (d *Dir) Path() string                                 { return "" }
func (d *Dir) Close() error                                 { return nil }
func (d *Dir) Stage(files []File, uid, gid int) (*Batch, error) {
	return nil, ErrUnsupported
}
func (b *Batch) Commit() error                            { return ErrUnsupported }
func (b *Batch) Discard() error                           { return nil }
func ParseUser(spec string) (User, error)                 { return User{}, ErrUnsupported }
func DropPrivileges(u User) error                         { return ErrUnsupported }
func LookPath(file string, env []string) (string, error)  { return "", ErrUnsupported }
func Prepare(argv, env []string, u *User) (string, error) { return "", ErrUnsupported }
func Exec(path string, argv, env []string) error          { return ErrUnsupported }
