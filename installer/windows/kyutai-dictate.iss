; Inno Setup script for Windows: installs the PyInstaller one-dir bundle with a Start menu
; entry, an optional start at sign-in and an uninstaller (Apps & features).
; Build on Windows (see installer/README.md), from the repository root:
;   uv run pyinstaller --noconfirm --distpath dist --workpath build\pyinstaller installer\kyutai-dictate.spec
;   iscc /DAppVersion=0.1.0 installer\windows\kyutai-dictate.iss
; Output: dist\kyutai-dictate-<version>-setup.exe

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z installer\windows\kyutai-dictate.iss
#endif

[Setup]
AppId={{6F0B2C8E-4D1A-4B7E-9C3F-6A2D8E1B5C47}
AppName=Kyutai Dictate
AppVersion={#AppVersion}
AppPublisher=the kyutai-dictate authors
DefaultDirName={autopf}\kyutai-dictate
DefaultGroupName=Kyutai Dictate
DisableProgramGroupPage=yes
; Per user by default (no administrator needed); the dialog offers all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
LicenseFile=..\..\LICENSE
OutputDir=..\..\dist
OutputBaseFilename=kyutai-dictate-{#AppVersion}-setup
UninstallDisplayIcon={app}\kyutai-dictate.exe
UninstallDisplayName=Kyutai Dictate
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; The running app holds its files open: ask it to close before replacing or removing them.
CloseApplications=yes

[Tasks]
Name: "startup"; Description: "Start Kyutai Dictate when I sign in"; Flags: unchecked

[Files]
Source: "..\..\dist\kyutai-dictate\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Kyutai Dictate"; Filename: "{app}\kyutai-dictate.exe"
Name: "{autostartup}\Kyutai Dictate"; Filename: "{app}\kyutai-dictate.exe"; Tasks: startup

[Run]
Filename: "{app}\kyutai-dictate.exe"; Description: "Start Kyutai Dictate now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
Filename: "{app}\kyutai-dictate.exe"; Parameters: "quit"; Flags: runhidden; RunOnceId: "QuitApp"
