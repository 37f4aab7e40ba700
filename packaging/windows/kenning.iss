; Inno Setup script: a per-user Kenning installer (no administrator rights).
; Build the bundle first (packaging/windows/build.ps1 does both), then:
;   iscc /DAppVersion=0.1.0 packaging\windows\kenning.iss
; Output: packaging\build\kenning-<version>-setup.exe

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define BundleDir "..\build\dist\kenning"

[Setup]
AppId={{6E1C3F7A-2B9D-4C55-9A61-4B8E0D1F7C21}
AppName=Kenning
AppVersion={#AppVersion}
AppPublisher=Kenning
AppComments=Search your own files by meaning, with answers you can check.
; Per user: installs into %LOCALAPPDATA%\Programs\Kenning and writes only to HKCU.
PrivilegesRequired=lowest
DefaultDirName={localappdata}\Programs\Kenning
DefaultGroupName=Kenning
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\kenning.exe
UninstallDisplayName=Kenning
OutputDir=..\build
OutputBaseFilename=kenning-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
#if FileExists(AddBackslash(SourcePath) + "..\build\kenning.ico")
SetupIconFile=..\build\kenning.ico
#endif

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{userprograms}\Kenning"; Filename: "{app}\kenning.exe"; Comment: "Search your files by meaning"
Name: "{userdesktop}\Kenning"; Filename: "{app}\kenning.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
Name: "rightclick"; Description: "Add ""Ask Kenning about this folder"" to the Explorer right-click menu"
Name: "loginstart"; Description: "Keep my folders indexed in the background: start Kenning when I sign in"; Flags: unchecked

[Run]
; Adds the Explorer entries under HKCU\Software\Classes\Directory\shell and
; Directory\Background\shell, pointing at the installed kenning.exe.
Filename: "{app}\kenning-cli.exe"; Parameters: "integrate install --exe ""{app}\kenning.exe"""; \
    Flags: runhidden waituntilterminated; Tasks: rightclick; StatusMsg: "Adding the right-click entry..."
; Adds a Kenning value under HKCU\Software\Microsoft\Windows\CurrentVersion\Run.
Filename: "{app}\kenning-cli.exe"; Parameters: "service enable"; \
    Flags: runhidden waituntilterminated; Tasks: loginstart; StatusMsg: "Starting Kenning at sign-in..."
Filename: "{app}\kenning.exe"; Description: "Open Kenning now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; The background service must not run from files about to be removed, nor start at sign-in.
Filename: "{app}\kenning-cli.exe"; Parameters: "service stop"; \
    Flags: runhidden waituntilterminated; RunOnceId: "StopService"
Filename: "{app}\kenning-cli.exe"; Parameters: "service disable"; \
    Flags: runhidden waituntilterminated; RunOnceId: "RemoveLoginStart"
; Always runs (also when the entry was never added: uninstall is then a no-op).
Filename: "{app}\kenning-cli.exe"; Parameters: "integrate uninstall"; \
    Flags: runhidden waituntilterminated; RunOnceId: "RemoveRightClickEntry"

[UninstallDelete]
; Files the app writes inside its own folder (none today; __pycache__-like leftovers).
Type: filesandordirs; Name: "{app}"
; The index, settings and models live in %LOCALAPPDATA%\Kenning and are kept on purpose:
; docs/install.md says how to remove them too.
